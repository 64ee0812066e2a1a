#include "tools/kubenat/flags.h"

#include <charconv>
#include <optional>

namespace kubenat {

void FlagSet::add_string(std::string name, std::string* target, std::string help) {
  flags_.push_back(Flag{std::move(name), std::move(help), false, "STRING",
                        [target](const std::string& value) -> std::expected<void, std::string> {
                          *target = value;
                          return {};
                        }});
}

void FlagSet::add_bool(std::string name, bool* target, std::string help) {
  flags_.push_back(Flag{std::move(name), std::move(help), true, "",
                        [target](const std::string& value) -> std::expected<void, std::string> {
                          if (value == "true" || value == "1") {
                            *target = true;
                          } else if (value == "false" || value == "0") {
                            *target = false;
                          } else {
                            return std::unexpected("expects true or false, got \"" + value + "\"");
                          }
                          return {};
                        }});
}

void FlagSet::add_int(std::string name, int* target, std::string help) {
  flags_.push_back(Flag{std::move(name), std::move(help), false, "N",
                        [target](const std::string& value) -> std::expected<void, std::string> {
                          int parsed = 0;
                          auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), parsed);
                          if (ec != std::errc() || end != value.data() + value.size()) {
                            return std::unexpected("expects an integer, got \"" + value + "\"");
                          }
                          *target = parsed;
                          return {};
                        }});
}

void FlagSet::add_list(std::string name, std::vector<std::string>* target, std::string help) {
  flags_.push_back(Flag{std::move(name), std::move(help), false, "A[,B...]",
                        [target](const std::string& value) -> std::expected<void, std::string> {
                          std::size_t start = 0;
                          while (start <= value.size()) {
                            std::size_t comma = value.find(',', start);
                            if (comma == std::string::npos) comma = value.size();
                            std::string item = value.substr(start, comma - start);
                            if (!item.empty()) target->push_back(std::move(item));
                            start = comma + 1;
                          }
                          return {};
                        }});
}

void FlagSet::add_alias(std::string alias, const std::string& name) {
  aliases_.emplace_back(std::move(alias), name);
}

const FlagSet::Flag* FlagSet::find(std::string_view name) const {
  for (const auto& [alias, target] : aliases_) {
    if (alias == name) name = target;
  }
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::expected<std::vector<std::string>, std::string> FlagSet::parse(std::span<const std::string> args) const {
  std::vector<std::string> positional;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    std::string_view body = arg;
    body.remove_prefix(body.starts_with("--") ? 2 : 1);
    std::string name(body.substr(0, body.find('=')));
    std::optional<std::string> value;
    if (body.find('=') != std::string_view::npos) value = std::string(body.substr(body.find('=') + 1));
    const Flag* flag = find(name);
    if (flag == nullptr) return std::unexpected(command_ + ": unknown flag --" + name);
    if (!value) {
      if (flag->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return std::unexpected(command_ + ": flag --" + name + " needs a value");
      }
    }
    if (auto ok = flag->set(*value); !ok) {
      return std::unexpected(command_ + ": flag --" + name + ": " + ok.error());
    }
  }
  return positional;
}

std::string FlagSet::usage() const {
  std::string out;
  for (const Flag& flag : flags_) {
    std::string left = "  --" + flag.name + (flag.is_bool ? "" : " " + flag.value_name);
    for (const auto& [alias, target] : aliases_) {
      if (target == flag.name) left += " (or --" + alias + ")";
    }
    if (left.size() < 34) left.resize(34, ' ');
    out += left + " " + flag.help + "\n";
  }
  return out;
}

std::expected<std::vector<std::string>, int> parse_command_line(const FlagSet& flags,
                                                              std::span<const std::string> args, const bool& help,
                                                              std::string_view help_text, std::ostream& out,
                                                              std::ostream& err) {
  auto positional = flags.parse(args);
  if (!positional) {
    err << positional.error() << "\n";
    return std::unexpected(2);
  }
  if (help) {
    out << help_text << flags.usage();
    return std::unexpected(0);
  }
  return std::move(*positional);
}

}  // namespace kubenat
