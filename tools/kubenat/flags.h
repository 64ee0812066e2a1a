#pragma once

// A small command-line flag parser: "--name value", "--name=value", boolean
// "--name" / "--name=false", repeatable or comma-separated lists. Errors are
// values: the message names the flag.

#include <expected>
#include <functional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kubenat {

class FlagSet {
 public:
  explicit FlagSet(std::string command) : command_(std::move(command)) {}

  void add_string(std::string name, std::string* target, std::string help);
  void add_bool(std::string name, bool* target, std::string help);
  void add_int(std::string name, int* target, std::string help);
  // Repeatable; each value is also split on commas.
  void add_list(std::string name, std::vector<std::string>* target, std::string help);
  // Another name for an already added flag (kube-proxy's spelling, say).
  void add_alias(std::string alias, const std::string& name);

  // Parses args (without the program and command names). Returns the
  // positional arguments, or a one-line error.
  [[nodiscard]] std::expected<std::vector<std::string>, std::string> parse(
      std::span<const std::string> args) const;

  std::string usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    bool is_bool = false;
    std::string value_name;
    std::function<std::expected<void, std::string>(const std::string&)> set;
  };
  const Flag* find(std::string_view name) const;

  std::string command_;
  std::vector<Flag> flags_;
  std::vector<std::pair<std::string, std::string>> aliases_;
};

// A command's arguments parsed by `flags`: the positional ones, or the exit
// status when the command ends here: 2 after a parse error (said on `err`),
// 0 when `help` (a flag of `flags`) was given (`help_text`, then the flags'
// usage, on `out`).
[[nodiscard]] std::expected<std::vector<std::string>, int> parse_command_line(const FlagSet& flags,
                                                                             std::span<const std::string> args,
                                                                             const bool& help,
                                                                             std::string_view help_text,
                                                                             std::ostream& out, std::ostream& err);

}  // namespace kubenat
