#include "tools/apiserver_sim/selectors.h"

#include <algorithm>
#include <cctype>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Splits on commas outside parentheses: "a in (x,y),b" -> "a in (x,y)", "b".
std::expected<std::vector<std::string_view>, std::string> split_requirements(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size()) {
      if (text[i] == '(') ++depth;
      if (text[i] == ')' && --depth < 0) return std::unexpected("unbalanced parentheses");
      if (text[i] != ',' || depth > 0) continue;
    }
    if (depth != 0) return std::unexpected("unbalanced parentheses");
    std::string_view part = trim(text.substr(start, i - start));
    if (part.empty()) return std::unexpected("empty requirement");
    parts.push_back(part);
    start = i + 1;
  }
  return parts;
}

bool valid_key(std::string_view key) {
  if (key.empty() || key.size() > 316) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

bool valid_value(std::string_view value) {
  return value.size() <= 63 && std::all_of(value.begin(), value.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

// " in (a, b)" after the key: the operator word and the parenthesised list.
std::expected<std::vector<std::string>, std::string> parse_set(std::string_view text) {
  text = trim(text);
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') {
    return std::unexpected("expected a parenthesised list of values");
  }
  std::vector<std::string> values;
  text = text.substr(1, text.size() - 2);
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != ',') continue;
    std::string_view value = trim(text.substr(start, i - start));
    if (!valid_value(value)) return std::unexpected("invalid label value \"" + std::string(value) + "\"");
    values.emplace_back(value);
    start = i + 1;
  }
  return values;
}

std::string scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

}  // namespace

std::expected<LabelSelector, std::string> LabelSelector::parse(std::string_view text) {
  LabelSelector selector;
  if (trim(text).empty()) return selector;
  auto parts = split_requirements(text);
  if (!parts) return std::unexpected("labelSelector \"" + std::string(text) + "\": " + parts.error());
  auto fail = [&](const std::string& why) {
    return std::unexpected("labelSelector \"" + std::string(text) + "\": " + why);
  };
  for (std::string_view part : *parts) {
    Requirement requirement;
    if (part.front() == '!') {
      requirement.key = std::string(trim(part.substr(1)));
      requirement.op = Op::DoesNotExist;
    } else if (std::size_t op = part.find_first_of("=!"); op != std::string_view::npos) {
      requirement.key = std::string(trim(part.substr(0, op)));
      std::string_view rest = part.substr(op);
      if (rest.starts_with("!=")) {
        requirement.op = Op::NotEquals;
        rest.remove_prefix(2);
      } else if (rest.starts_with("==")) {
        requirement.op = Op::Equals;
        rest.remove_prefix(2);
      } else if (rest.starts_with("=")) {
        requirement.op = Op::Equals;
        rest.remove_prefix(1);
      } else {
        return fail("bad operator in \"" + std::string(part) + "\"");
      }
      rest = trim(rest);
      if (!valid_value(rest)) return fail("invalid label value \"" + std::string(rest) + "\"");
      requirement.values.emplace_back(rest);
    } else if (std::size_t space = part.find_first_of(" \t"); space != std::string_view::npos) {
      requirement.key = std::string(part.substr(0, space));
      std::string_view rest = trim(part.substr(space));
      std::size_t word_end = rest.find_first_of(" \t(");
      std::string_view word = rest.substr(0, word_end);
      if (word == "in") {
        requirement.op = Op::In;
      } else if (word == "notin") {
        requirement.op = Op::NotIn;
      } else {
        return fail("unknown operator \"" + std::string(word) + "\"");
      }
      auto values = parse_set(rest.substr(word.size()));
      if (!values) return fail(values.error());
      requirement.values = std::move(*values);
    } else {
      requirement.key = std::string(part);
      requirement.op = Op::Exists;
    }
    if (!valid_key(requirement.key)) return fail("invalid label key \"" + requirement.key + "\"");
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool LabelSelector::matches(const json& labels) const {
  for (const Requirement& requirement : requirements_) {
    const json* value = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(requirement.key);
      if (it != labels.end() && it->is_string()) value = &*it;
    }
    auto has = [&](const std::string& wanted) { return value != nullptr && value->get_ref<const std::string&>() == wanted; };
    bool ok = false;
    switch (requirement.op) {
      case Op::Equals:
        ok = has(requirement.values.front());
        break;
      case Op::NotEquals:
        ok = !has(requirement.values.front());
        break;
      case Op::In:
        ok = std::any_of(requirement.values.begin(), requirement.values.end(), has);
        break;
      case Op::NotIn:
        ok = std::none_of(requirement.values.begin(), requirement.values.end(), has);
        break;
      case Op::Exists:
        ok = value != nullptr;
        break;
      case Op::DoesNotExist:
        ok = value == nullptr;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

std::expected<FieldSelector, std::string> FieldSelector::parse(std::string_view text) {
  FieldSelector selector;
  if (trim(text).empty()) return selector;
  auto parts = split_requirements(text);
  if (!parts) return std::unexpected("fieldSelector \"" + std::string(text) + "\": " + parts.error());
  for (std::string_view part : *parts) {
    Requirement requirement;
    std::size_t op = part.find_first_of("=!");
    if (op == std::string_view::npos) {
      return std::unexpected("fieldSelector \"" + std::string(text) + "\": \"" + std::string(part) +
                             "\" has no operator");
    }
    std::string_view path = trim(part.substr(0, op));
    std::string_view rest = part.substr(op);
    if (rest.starts_with("!=")) {
      requirement.negated = true;
      rest.remove_prefix(2);
    } else if (rest.starts_with("==")) {
      rest.remove_prefix(2);
    } else if (rest.starts_with("=")) {
      rest.remove_prefix(1);
    } else {
      return std::unexpected("fieldSelector \"" + std::string(text) + "\": bad operator in \"" + std::string(part) +
                             "\"");
    }
    if (path.empty()) return std::unexpected("fieldSelector \"" + std::string(text) + "\": empty field");
    std::size_t start = 0;
    for (std::size_t i = 0; i <= path.size(); ++i) {
      if (i < path.size() && path[i] != '.') continue;
      requirement.path.emplace_back(path.substr(start, i - start));
      start = i + 1;
    }
    requirement.value = std::string(trim(rest));
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool FieldSelector::matches(const json& object) const {
  for (const Requirement& requirement : requirements_) {
    const json* node = &object;
    for (const std::string& step : requirement.path) {
      if (!node->is_object()) {
        node = nullptr;
        break;
      }
      auto it = node->find(step);
      if (it == node->end()) {
        node = nullptr;
        break;
      }
      node = &*it;
    }
    const std::string value = node == nullptr ? "" : scalar_text(*node);
    if ((value == requirement.value) == requirement.negated) return false;
  }
  return true;
}

const std::string* FieldSelector::exact_name() const {
  for (const Requirement& requirement : requirements_) {
    if (!requirement.negated && requirement.path.size() == 2 && requirement.path[0] == "metadata" &&
        requirement.path[1] == "name") {
      return &requirement.value;
    }
  }
  return nullptr;
}

}  // namespace kubenat::apiserver_sim
