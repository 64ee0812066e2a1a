#include "rules/json_tree.h"

#include <cassert>
#include <limits>
#include <nlohmann/json.hpp>

#include "rules/json_or_yaml.h"

namespace kubenat {

using nlohmann::json;

// Appends nodes in document order (a value before its elements), so a
// container's first child is the node right after it. nlohmann's parser
// calls it as it reads (its SAX interface); from_json calls it the same way.
class JsonTreeBuilder {
 public:
  explicit JsonTreeBuilder(JsonTree& tree) : tree_(tree) { tree_.nodes_.clear(); }

  // Kubernetes objects as JSON text: about one value per 14 characters,
  // half of the characters names and strings.
  void reserve_for(std::size_t text_size) {
    tree_.nodes_.reserve(text_size / 16 + 1);
    tree_.text_.reserve(text_size / 2);
  }

  bool null() { return add(JsonType::Null) != nullptr; }

  bool boolean(bool value) {
    JsonNode* node = add(JsonType::Boolean);
    if (node != nullptr) node->boolean = value;
    return node != nullptr;
  }

  bool number_integer(std::int64_t value) {
    JsonNode* node = add(JsonType::Integer);
    if (node != nullptr) node->integer = value;
    return node != nullptr;
  }

  bool number_unsigned(std::uint64_t value) {
    JsonNode* node = add(JsonType::Unsigned);
    if (node != nullptr) node->unsigned_integer = value;
    return node != nullptr;
  }

  bool number_float(double value, const std::string& /*text*/) {
    JsonNode* node = add(JsonType::Float);
    if (node != nullptr) node->real = value;
    return node != nullptr;
  }

  // The parser hands strings and names over as mutable std::string;
  // from_json passes views of its document's, which need no copy.
  bool string(std::string& value) { return add_string(value); }

  bool add_string(std::string_view value) {
    JsonNode::TextRange range{};
    if (!append(value, range)) return false;
    JsonNode* node = add(JsonType::String);
    if (node != nullptr) node->text = range;
    return node != nullptr;
  }

  bool binary(json::binary_t& /*value*/) {
    // Only CBOR and the like carry binary values; JSON text never does.
    error = "binary value in JSON";
    return false;
  }

  bool start_object(std::size_t /*elements*/) { return open(JsonType::Object); }
  bool end_object() { return close(); }
  bool start_array(std::size_t /*elements*/) { return open(JsonType::Array); }
  bool end_array() { return close(); }

  bool key(std::string& name) { return set_key(name); }

  bool set_key(std::string_view name) { return append(name, key_); }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& exception) {
    error = one_line(exception.what());
    return false;
  }

  std::string error;

 private:
  struct Open {
    std::uint32_t index;       // the container
    std::uint32_t last_child;  // 0 for none yet
  };

  JsonNode* add(JsonType type) {
    std::vector<JsonNode>& nodes = tree_.nodes_;
    if (nodes.size() >= std::numeric_limits<std::uint32_t>::max()) {
      error = "document too large";
      return nullptr;
    }
    const auto index = static_cast<std::uint32_t>(nodes.size());
    JsonNode& node = nodes.emplace_back();
    node.type = type;
    if (!open_.empty()) {
      Open& parent = open_.back();
      if (parent.last_child != 0) nodes[parent.last_child].next = index;
      parent.last_child = index;
      JsonNode& container = nodes[parent.index];
      ++container.size;
      if (container.type == JsonType::Object) {
        node.key = key_;
      }
    }
    return &nodes.back();
  }

  bool open(JsonType type) {
    if (add(type) == nullptr) return false;
    open_.push_back({static_cast<std::uint32_t>(tree_.nodes_.size() - 1), 0});
    return true;
  }

  bool close() {
    open_.pop_back();
    return true;
  }

  bool append(std::string_view text, JsonNode::TextRange& range) {
    std::vector<char>& buffer = tree_.text_;
    if (text.size() > std::numeric_limits<std::uint32_t>::max() - buffer.size()) {
      error = "document too large";
      return false;
    }
    range = {static_cast<std::uint32_t>(buffer.size()), static_cast<std::uint32_t>(text.size())};
    buffer.insert(buffer.end(), text.begin(), text.end());
    return true;
  }

  JsonTree& tree_;
  std::vector<Open> open_;
  JsonNode::TextRange key_{};  // the name of the member whose value comes next
};

namespace {

// Replays a document into the builder, in the order the parser would.
bool replay(const json& value, JsonTreeBuilder& builder) {
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
      return builder.null();
    case json::value_t::boolean:
      return builder.boolean(value.get<bool>());
    case json::value_t::number_integer:
      return builder.number_integer(value.get<std::int64_t>());
    case json::value_t::number_unsigned:
      return builder.number_unsigned(value.get<std::uint64_t>());
    case json::value_t::number_float:
      return builder.number_float(value.get<double>(), {});
    case json::value_t::string:
      return builder.add_string(value.get_ref<const std::string&>());
    case json::value_t::binary:
      return builder.null();
    case json::value_t::array:
      if (!builder.start_array(value.size())) return false;
      for (const json& element : value) {
        if (!replay(element, builder)) return false;
      }
      return builder.end_array();
    case json::value_t::object:
      if (!builder.start_object(value.size())) return false;
      for (const auto& [name, member] : value.items()) {
        if (!builder.set_key(name) || !replay(member, builder)) return false;
      }
      return builder.end_object();
  }
  return builder.null();
}

}  // namespace

JsonTree::JsonTree() { nodes_.emplace_back(); }

JsonTree JsonTree::from_json(const json& document) {
  JsonTree tree;
  JsonTreeBuilder builder(tree);
  if (!replay(document, builder)) {
    // Only a document of 4 GiB of text gets here; it reads as null.
    tree = JsonTree();
  }
  return tree;
}

std::expected<JsonTree, std::string> parse_json_tree(std::string_view text) {
  if (nests_deeper_than(text, kMaxJsonDepth)) {
    return std::unexpected("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  JsonTree tree;
  JsonTreeBuilder builder(tree);
  builder.reserve_for(text.size());
  if (!json::sax_parse(text, &builder, json::input_format_t::json, true, false)) {
    return std::unexpected(builder.error.empty() ? std::string("not JSON") : builder.error);
  }
  return tree;
}

// None reads as null: the API treats a missing field and a null one alike.
JsonType JsonValue::type() const { return exists() ? node().type : JsonType::Null; }

bool JsonValue::boolean() const { return node().boolean; }

std::int64_t JsonValue::integer() const { return node().integer; }

std::uint64_t JsonValue::unsigned_integer() const { return node().unsigned_integer; }

std::string_view JsonValue::string() const { return {text_ + node().text.offset, node().text.size}; }

std::size_t JsonValue::size() const { return node().size; }

std::string_view JsonValue::key() const { return {text_ + node().key.offset, node().key.size}; }

JsonValue JsonValue::first() const {
  if (!exists() || node().size == 0) return {};
  return at(index_ + 1);
}

JsonValue JsonValue::next() const {
  if (!exists() || node().next == 0) return {};
  return at(node().next);
}

JsonValue JsonValue::find(std::string_view name) const {
  if (!exists() || !is_object()) return {};
  JsonValue found;
  for (JsonValue member = first(); member.exists(); member = member.next()) {
    if (member.key() == name) found = member;
  }
  return found;
}

json JsonValue::to_json() const {
  switch (type()) {  // none reads as null
    case JsonType::Null:
      return nullptr;
    case JsonType::Boolean:
      return boolean();
    case JsonType::Integer:
      return integer();
    case JsonType::Unsigned:
      return unsigned_integer();
    case JsonType::Float:
      return node().real;
    case JsonType::String:
      return std::string(string());
    case JsonType::Array: {
      json array = json::array();
      for (JsonValue element = first(); element.exists(); element = element.next()) {
        array.push_back(element.to_json());
      }
      return array;
    }
    case JsonType::Object: {
      json object = json::object();
      // Later duplicates overwrite earlier ones, as when parsing.
      for (JsonValue member = first(); member.exists(); member = member.next()) {
        object[std::string(member.key())] = member.to_json();
      }
      return object;
    }
  }
  return nullptr;
}

}  // namespace kubenat
