#pragma once

// Reading the fields of one Kubernetes object with diagnostics that name
// them. The decoder (rules/decode.h) reads Services, EndpointSlices,
// Endpoints and Nodes through these, so that every kind reports a wrong type,
// an out-of-range number or a missing field in the same words: the object,
// the dotted field path ("spec.ports[1].port"), the value quoted and
// shortened, and what was skipped. Kept apart from the per-kind decoding,
// which is long enough on its own. Pure: diagnostics are values.
//
// The names are generic (Field, Reader, with, quote), hence the nested
// namespace: only the decoder's implementation uses them.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/diagnostic.h"
#include "rules/json_tree.h"

namespace kubenat::detail {

// A value as it may appear in a diagnostic: JSON text, ASCII only (so a
// hostile value cannot break a log line or a terminal) and shortened.
std::string quote_json(const nlohmann::json& value);
std::string quote_json(const JsonValue& value);

// quote_json of `text` as a JSON string.
std::string quote(std::string_view text);

// "<message>; <consequence>", the shape of every diagnostic message.
std::string with(std::string_view message, std::string_view consequence);

// One step of a field path: a member name ("ports"), a list index ("[1]") or
// a map key such as a label key ("[\"app\"]").
struct PathStep {
  enum class Kind : std::uint8_t { Member, Index, Key };
  Kind kind = Kind::Member;
  std::uint32_t index = 0;
  // Member and Key: a string literal of the decoder or a key of the document
  // itself, both of which outlive the decoding of the object.
  std::string_view name;
};

// A position in the input object: the value there (none when the field is
// missing or null, which the Kubernetes API treats alike) and how it was
// reached. The path is kept as steps and spelled out only for a diagnostic:
// decoding a valid object, the common case, then builds no strings.
struct Field {
  // Deeper than any path the decoder reads (the deepest is
  // "endpoints[i].hints.forZones[j].name"); steps past it are dropped from
  // the path, shown as "...".
  static constexpr std::size_t kMaxDepth = 8;

  JsonValue value;
  std::array<PathStep, kMaxDepth> steps{};
  std::uint8_t depth = 0;
  bool truncated = false;

  bool present() const { return value.exists(); }

  // "spec.ports[1].port"; empty for the object itself.
  std::string path() const;

  // The member `key` of this object; absent when this is not an object.
  Field operator[](std::string_view key) const;

  // For map keys that are not identifiers, such as label keys.
  Field key(std::string_view key) const;

  // Element `index` of this list, which the caller has checked is one.
  Field element(std::size_t index) const;

  // `element` is this list's element number `index`.
  Field child_at(const JsonValue& element, std::size_t index) const;

 private:
  JsonValue lookup(std::string_view key) const;
  Field child(const JsonValue& child_value, PathStep step) const;
};

// Reads typed fields and records what is wrong with them against the object
// being decoded. Every getter leaves `out` alone when the field is absent,
// stores the value when it has the expected type, and otherwise reports
// "expected ..., got <value>; <consequence>" and returns false.
class Reader {
 public:
  Reader(std::string object, Diagnostics& diagnostics) : object_(std::move(object)), diagnostics_(diagnostics) {}

  void set_object(std::string object) { object_ = std::move(object); }

  void report(const Field& field, std::string message);

  void report_missing(const Field& field, std::string_view consequence);

  [[nodiscard]] bool get_string(const Field& field, std::string& out, std::string_view consequence);

  [[nodiscard]] bool get_bool(const Field& field, bool& out, std::string_view consequence);

  [[nodiscard]] bool get_int(const Field& field, int& out, int min, int max, std::string_view consequence);

  // A list as one Field per element, with paths "<path>[i]".
  [[nodiscard]] bool get_list(const Field& field, std::vector<Field>& out, std::string_view consequence);

  // Only a type check: an absent object reads as empty through Field.
  [[nodiscard]] bool check_object(const Field& field, std::string_view consequence);

  // A map of strings (labels); entries with other values are dropped.
  [[nodiscard]] bool get_string_map(const Field& field, std::map<std::string, std::string>& out,
                                    std::string_view consequence);

 private:
  bool wrong_type(const Field& field, std::string_view expected, std::string_view consequence);

  std::string object_;
  Diagnostics& diagnostics_;
};

}  // namespace kubenat::detail
