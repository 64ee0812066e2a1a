#pragma once

// A JSON document held as one flat array of nodes and one buffer of text,
// for what the informers read in bulk: list pages of thousands of objects.
// nlohmann's document allocates a map node and a string per member and frees
// them one by one; at 100,000 Services building and freeing those documents
// was half of the daemon's list time. A JsonTree is read with the same lexer
// (nlohmann's, through its SAX interface), so it accepts exactly the text
// parse_json accepts, with the same error messages, and to_json() gives back
// the document parse_json would have made. Pure.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace kubenat {

enum class JsonType : std::uint8_t { Null, Boolean, Integer, Unsigned, Float, String, Array, Object };

// One node of a JsonTree: a value and where its siblings are.
struct JsonNode {
  // A string's characters in the tree's text buffer.
  struct TextRange {
    std::uint32_t offset;
    std::uint32_t size;
  };

  JsonType type = JsonType::Null;
  std::uint32_t next = 0;  // the following sibling; 0 for none (the root is never one)
  std::uint32_t size = 0;  // elements or members
  TextRange key{};         // a member's name
  union {
    bool boolean;
    std::int64_t integer;
    std::uint64_t unsigned_integer;
    double real;
    TextRange text;
  };
  JsonNode() : integer(0) {}
};

// One value in a JsonTree, or none (a member that is not there). A handle:
// cheap to copy, valid while its tree lives. It points into the tree's heap
// buffers, so moving the tree keeps it valid.
class JsonValue {
 public:
  JsonValue() = default;

  bool exists() const { return nodes_ != nullptr; }
  // Null for none.
  JsonType type() const;
  bool is_null() const { return type() == JsonType::Null; }
  bool is_boolean() const { return type() == JsonType::Boolean; }
  // Signed or unsigned, as nlohmann's is_number_integer.
  bool is_integer() const { return type() == JsonType::Integer || type() == JsonType::Unsigned; }
  bool is_string() const { return type() == JsonType::String; }
  bool is_array() const { return type() == JsonType::Array; }
  bool is_object() const { return type() == JsonType::Object; }

  // Each only for a value of its type.
  bool boolean() const;
  std::int64_t integer() const;            // JsonType::Integer
  std::uint64_t unsigned_integer() const;  // JsonType::Unsigned
  std::string_view string() const;

  // The string, or empty when this is not a string.
  std::string_view string_or_empty() const { return exists() && is_string() ? string() : std::string_view(); }

  // Elements of an array, members of an object (duplicate names counted).
  std::size_t size() const;

  // The member named `key` of an object; none when this is not an object or
  // has no such member. Of duplicate names the last counts, as in nlohmann's
  // document (and Go's decoder).
  JsonValue find(std::string_view key) const;

  // The first element or member, and the one after this; none past the end.
  JsonValue first() const;
  JsonValue next() const;

  // A member's name.
  std::string_view key() const;

  // The value as an nlohmann document: for diagnostics that quote it and for
  // callers that still read nlohmann's type. Recursive: the tree nests at
  // most kMaxJsonDepth levels when parsed.
  nlohmann::json to_json() const;

 private:
  friend class JsonTree;
  JsonValue(const JsonNode* nodes, const char* text, std::uint32_t index) : nodes_(nodes), text_(text), index_(index) {}

  const JsonNode& node() const { return nodes_[index_]; }
  JsonValue at(std::uint32_t index) const { return JsonValue(nodes_, text_, index); }

  const JsonNode* nodes_ = nullptr;
  const char* text_ = nullptr;
  std::uint32_t index_ = 0;
};

class JsonTree {
 public:
  // An empty tree: its root is null.
  JsonTree();

  // A copy of an nlohmann document, for callers that have one.
  static JsonTree from_json(const nlohmann::json& document);

  JsonValue root() const { return JsonValue(nodes_.data(), text_.data(), 0); }

 private:
  friend class JsonTreeBuilder;

  std::vector<JsonNode> nodes_;
  // Every key and string, back to back. Not a std::string: a short one lives
  // inside the object, and handles must survive moving the tree.
  std::vector<char> text_;
};

// One JSON document as a JsonTree: accepts what parse_json accepts and
// fails with the same one-line message (rules/json_or_yaml.h).
[[nodiscard]] std::expected<JsonTree, std::string> parse_json_tree(std::string_view text);

}  // namespace kubenat
