#include "rules/object_reader.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

namespace kubenat::detail {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQuotedLength = 64;

std::optional<std::int64_t> integer_of(const JsonValue& value) {
  if (value.type() == JsonType::Unsigned) {
    const std::uint64_t unsigned_value = value.unsigned_integer();
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(std::min(unsigned_value, kMax));
  }
  if (value.type() == JsonType::Integer) {
    return value.integer();
  }
  return std::nullopt;
}

}  // namespace

std::string quote_json(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > kMaxQuotedLength) {
    text.resize(kMaxQuotedLength - 3);
    text += "...";
  }
  return text;
}

std::string quote_json(const JsonValue& value) { return quote_json(value.to_json()); }

std::string quote(std::string_view text) { return quote_json(json(std::string(text))); }

std::string with(std::string_view message, std::string_view consequence) {
  return std::string(message) + "; " + std::string(consequence);
}

std::string Field::path() const {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) {
    const PathStep& step = steps[i];
    switch (step.kind) {
      case PathStep::Kind::Member:
        if (i > 0) {
          text += '.';
        }
        text += step.name;
        break;
      case PathStep::Kind::Index:
        text += '[' + std::to_string(step.index) + ']';
        break;
      case PathStep::Kind::Key:
        text += '[' + quote(step.name) + ']';
        break;
    }
  }
  if (truncated) {
    text += "...";
  }
  return text;
}

Field Field::child(const JsonValue& child_value, PathStep step) const {
  Field result = *this;
  result.value = child_value;
  if (depth < kMaxDepth) {
    result.steps[depth] = step;
    ++result.depth;
  } else {
    result.truncated = true;
  }
  return result;
}

Field Field::operator[](std::string_view key) const {
  return child(lookup(key), PathStep{PathStep::Kind::Member, 0, key});
}

Field Field::key(std::string_view key) const { return child(lookup(key), PathStep{PathStep::Kind::Key, 0, key}); }

Field Field::element(std::size_t index) const {
  JsonValue element = value.first();
  for (std::size_t i = 0; i < index; ++i) {
    element = element.next();
  }
  return child_at(element, index);
}

Field Field::child_at(const JsonValue& element, std::size_t index) const {
  return child(element, PathStep{PathStep::Kind::Index, static_cast<std::uint32_t>(index), {}});
}

JsonValue Field::lookup(std::string_view key) const {
  const JsonValue member = value.find(key);
  if (!member.exists() || member.is_null()) {
    return {};
  }
  return member;
}

void Reader::report(const Field& field, std::string message) {
  diagnostics_.push_back({object_, field.path(), std::move(message)});
}

void Reader::report_missing(const Field& field, std::string_view consequence) {
  report(field, with("required field is missing", consequence));
}

bool Reader::get_string(const Field& field, std::string& out, std::string_view consequence) {
  if (!field.present()) {
    return true;
  }
  if (!field.value.is_string()) {
    return wrong_type(field, "a string", consequence);
  }
  out = field.value.string();
  return true;
}

bool Reader::get_bool(const Field& field, bool& out, std::string_view consequence) {
  if (!field.present()) {
    return true;
  }
  if (!field.value.is_boolean()) {
    return wrong_type(field, "a boolean", consequence);
  }
  out = field.value.boolean();
  return true;
}

bool Reader::get_int(const Field& field, int& out, int min, int max, std::string_view consequence) {
  if (!field.present()) {
    return true;
  }
  const std::optional<std::int64_t> number = integer_of(field.value);
  if (!number) {
    return wrong_type(field, "an integer", consequence);
  }
  if (*number < min || *number > max) {
    report(field,
           with(quote_json(field.value) + " is out of range " + std::to_string(min) + ".." + std::to_string(max),
                consequence));
    return false;
  }
  out = static_cast<int>(*number);
  return true;
}

bool Reader::get_list(const Field& field, std::vector<Field>& out, std::string_view consequence) {
  out.clear();
  if (!field.present()) {
    return true;
  }
  if (!field.value.is_array()) {
    return wrong_type(field, "a list", consequence);
  }
  out.reserve(field.value.size());
  std::size_t index = 0;
  for (JsonValue element = field.value.first(); element.exists(); element = element.next()) {
    out.push_back(field.child_at(element, index++));
  }
  return true;
}

bool Reader::check_object(const Field& field, std::string_view consequence) {
  if (!field.present() || field.value.is_object()) {
    return true;
  }
  return wrong_type(field, "an object", consequence);
}

bool Reader::get_string_map(const Field& field, std::map<std::string, std::string>& out, std::string_view consequence) {
  if (!check_object(field, consequence)) {
    return false;
  }
  if (!field.present()) {
    return true;
  }
  // In name order, the last of duplicate names counting, as a document
  // read by nlohmann (or Go) would hold them.
  std::map<std::string_view, JsonValue> entries;
  for (JsonValue member = field.value.first(); member.exists(); member = member.next()) {
    entries[member.key()] = member;
  }
  for (const auto& [key, value] : entries) {
    if (value.is_string()) {
      out[std::string(key)] = value.string();
    } else if (value.is_null()) {
      out[std::string(key)] = "";  // as Go reads null into a map of strings
    } else {
      (void)wrong_type(field.key(key), "a string", "entry skipped");
    }
  }
  return true;
}

bool Reader::wrong_type(const Field& field, std::string_view expected, std::string_view consequence) {
  const std::string got = field.present() ? quote_json(field.value) : std::string("null");
  report(field, with("expected " + std::string(expected) + ", got " + got, consequence));
  return false;
}

}  // namespace kubenat::detail
