#include "rules/json_or_yaml.h"

#include <charconv>
#include <cstdint>
#include <exception>
#include <optional>

#include <yaml-cpp/yaml.h>

#include "rules/yaml_documents.h"

namespace kubenat {

using nlohmann::json;

// Parser messages can span lines and echo input; an error must stay one
// short line.
std::string one_line(std::string_view text, std::size_t limit) {
  std::string line;
  for (const char c : text.substr(0, limit)) {
    line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  if (text.size() > limit) line += "...";
  return line;
}

namespace {


// yaml-cpp tags plain (unquoted) scalars "?" and quoted ones "!"; only plain
// scalars are resolved to non-strings, as the YAML 1.2 core schema does, so
// a quoted "80" or "true" stays a string. Floats stay strings too: no field
// we read is a float, and a string is the better guess for "1.10" in a label.
json plain_scalar(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (begin != end && *begin == '+') {
    ++begin;
  }
  std::int64_t number = 0;
  const auto [next, error] = std::from_chars(begin, end, number);
  if (begin != end && error == std::errc{} && next == end) {
    return number;
  }
  return text;
}

json scalar_to_json(const YAML::Node& node) {
  const std::string& tag = node.Tag();
  const std::string& text = node.Scalar();
  if (tag == "?") {
    return plain_scalar(text);
  }
  if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:bool") {
    return plain_scalar(text);
  }
  return text;
}

// Converts a YAML document to JSON. Aliases make a YAML document a graph:
// "&a [*a]" contains itself and a few nested aliases expand exponentially, so
// the conversion is bounded in depth and in the number of nodes it emits.
// Kubernetes objects never come near either limit. Throws YAML::Exception
// (caught by the caller) when a limit is hit or a key is not a scalar.
class YamlToJson {
 public:
  explicit YamlToJson(std::size_t max_nodes) : nodes_left_(max_nodes) {}

  json convert(const YAML::Node& node, int depth = 0) {
    if (depth > kMaxDepth) {
      throw YAML::Exception(node.Mark(), "nested deeper than " + std::to_string(kMaxDepth) + " levels");
    }
    if (nodes_left_ == 0) {
      throw YAML::Exception(node.Mark(), "aliases expand to more nodes than the text could hold");
    }
    --nodes_left_;
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        return scalar_to_json(node);
      case YAML::NodeType::Sequence: {
        json array = json::array();
        for (const YAML::Node& element : node) {
          array.push_back(convert(element, depth + 1));
        }
        return array;
      }
      case YAML::NodeType::Map: {
        json object = json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar() && !entry.first.IsNull()) {
            throw YAML::Exception(entry.first.Mark(), "mapping key is not a scalar");
          }
          object[entry.first.IsNull() ? std::string() : entry.first.Scalar()] = convert(entry.second, depth + 1);
        }
        return object;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }

 private:
  static constexpr int kMaxDepth = 200;
  std::size_t nodes_left_;
};

bool looks_like_json(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
}

}  // namespace

bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

std::expected<json, std::string> parse_json(std::string_view text) {
  if (nests_deeper_than(text, kMaxJsonDepth)) {
    return std::unexpected("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  try {
    return json::parse(text);
  } catch (const json::exception& error) {
    return std::unexpected(one_line(error.what()));
  }
}

// Null documents (an empty one after a trailing "---") are dropped.
std::expected<std::vector<json>, std::string> parse_json_or_yaml(std::string_view text) {
  std::optional<std::string> json_error;
  if (looks_like_json(text)) {
    auto document = parse_json(text);
    if (document) {
      std::vector<json> documents;
      documents.push_back(std::move(*document));
      return documents;
    }
    // Could still be YAML flow style ("{kind: List, items: []}"); YAML
    // bounds its own nesting.
    json_error = document.error();
  }
  try {
    std::vector<json> documents;
    // Without aliases every node takes at least one character of text.
    YamlToJson converter(2 * text.size() + 16);
    for (const YAML::Node& node : load_yaml_documents(text)) {
      json document = converter.convert(node);
      if (!document.is_null()) {
        documents.push_back(std::move(document));
      }
    }
    return documents;
  } catch (const std::exception& error) {
    return std::unexpected("not JSON or YAML: " + one_line(json_error.value_or(error.what())));
  }
}


}  // namespace kubenat
