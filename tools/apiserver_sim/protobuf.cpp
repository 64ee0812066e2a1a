#include "tools/apiserver_sim/protobuf.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

// The field numbers are those of k8s.io/api/core/v1/generated.proto and
// k8s.io/apimachinery/pkg/runtime/generated.proto.
enum class Kind { String, Int, Bool, Message, StringMap, Strings, Messages, IntOrString };

struct Message;
struct Field {
  int number;
  const char* name;
  Kind kind;
  const Message* message = nullptr;
};
struct Message {
  std::vector<Field> fields;
};

const Message kObjectMeta{{{1, "name", Kind::String},
                           {2, "generateName", Kind::String},
                           {3, "namespace", Kind::String},
                           {5, "uid", Kind::String},
                           {6, "resourceVersion", Kind::String},
                           {11, "labels", Kind::StringMap},
                           {12, "annotations", Kind::StringMap},
                           {14, "finalizers", Kind::Strings}}};
const Message kServicePort{{{1, "name", Kind::String},
                            {2, "protocol", Kind::String},
                            {3, "port", Kind::Int},
                            {4, "targetPort", Kind::IntOrString},
                            {5, "nodePort", Kind::Int},
                            {6, "appProtocol", Kind::String}}};
const Message kServiceSpec{{{1, "ports", Kind::Messages, &kServicePort},
                            {2, "selector", Kind::StringMap},
                            {3, "clusterIP", Kind::String},
                            {4, "type", Kind::String},
                            {5, "externalIPs", Kind::Strings},
                            {7, "sessionAffinity", Kind::String},
                            {8, "loadBalancerIP", Kind::String},
                            {9, "loadBalancerSourceRanges", Kind::Strings},
                            {10, "externalName", Kind::String},
                            {11, "externalTrafficPolicy", Kind::String},
                            {12, "healthCheckNodePort", Kind::Int},
                            {13, "publishNotReadyAddresses", Kind::Bool}}};
const Message kService{{{1, "metadata", Kind::Message, &kObjectMeta}, {2, "spec", Kind::Message, &kServiceSpec}}};
const Message kNamespaceSpec{{{1, "finalizers", Kind::Strings}}};
const Message kNamespaceStatus{{{1, "phase", Kind::String}}};
const Message kNamespace{{{1, "metadata", Kind::Message, &kObjectMeta},
                          {2, "spec", Kind::Message, &kNamespaceSpec},
                          {3, "status", Kind::Message, &kNamespaceStatus}}};

// A protobuf wire-format reader over a byte range.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool done() const { return at_ >= bytes_.size(); }

  std::optional<std::uint64_t> varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64 && at_ < bytes_.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(bytes_[at_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;
  }

  std::optional<std::string_view> bytes() {
    auto length = varint();
    if (!length || *length > bytes_.size() - at_) return std::nullopt;
    std::string_view out = bytes_.substr(at_, *length);
    at_ += *length;
    return out;
  }

  // Skips a field of an unknown number.
  bool skip(int wire_type) {
    switch (wire_type) {
      case 0:
        return varint().has_value();
      case 1:
        return advance(8);
      case 2:
        return bytes().has_value();
      case 5:
        return advance(4);
      default:
        return false;  // groups are not used by Kubernetes
    }
  }

 private:
  bool advance(std::size_t count) {
    if (count > bytes_.size() - at_) return false;
    at_ += count;
    return true;
  }

  std::string_view bytes_;
  std::size_t at_ = 0;
};

std::expected<json, std::string> decode(std::string_view bytes, const Message& message);

std::expected<std::pair<std::string, std::string>, std::string> decode_map_entry(std::string_view bytes) {
  Reader reader(bytes);
  std::pair<std::string, std::string> entry;
  while (!reader.done()) {
    auto key = reader.varint();
    if (!key) return std::unexpected("truncated map entry");
    const int number = static_cast<int>(*key >> 3);
    if ((*key & 7) == 2 && (number == 1 || number == 2)) {
      auto text = reader.bytes();
      if (!text) return std::unexpected("truncated map entry");
      (number == 1 ? entry.first : entry.second) = std::string(*text);
    } else if (!reader.skip(static_cast<int>(*key & 7))) {
      return std::unexpected("bad map entry");
    }
  }
  return entry;
}

std::expected<json, std::string> decode_int_or_string(std::string_view bytes) {
  Reader reader(bytes);
  std::uint64_t type = 0;
  std::uint64_t number = 0;
  std::string text;
  while (!reader.done()) {
    auto key = reader.varint();
    if (!key) return std::unexpected("truncated IntOrString");
    const int field = static_cast<int>(*key >> 3);
    if (field == 1 || field == 2) {
      auto value = reader.varint();
      if (!value) return std::unexpected("truncated IntOrString");
      (field == 1 ? type : number) = *value;
    } else if (field == 3 && (*key & 7) == 2) {
      auto value = reader.bytes();
      if (!value) return std::unexpected("truncated IntOrString");
      text = std::string(*value);
    } else if (!reader.skip(static_cast<int>(*key & 7))) {
      return std::unexpected("bad IntOrString");
    }
  }
  if (type == 1) return text.empty() ? json(nullptr) : json(text);
  // int32 on the wire: negative values arrive sign-extended to 64 bits.
  return number == 0 ? json(nullptr) : json(static_cast<std::int32_t>(number));
}

std::expected<json, std::string> decode(std::string_view bytes, const Message& message) {
  json object = json::object();
  Reader reader(bytes);
  while (!reader.done()) {
    auto key = reader.varint();
    if (!key) return std::unexpected("truncated field key");
    const int number = static_cast<int>(*key >> 3);
    const int wire_type = static_cast<int>(*key & 7);
    const Field* field = nullptr;
    for (const Field& candidate : message.fields) {
      if (candidate.number == number) field = &candidate;
    }
    const bool varint_field = field != nullptr && (field->kind == Kind::Int || field->kind == Kind::Bool);
    if (field == nullptr || (varint_field ? wire_type != 0 : wire_type != 2)) {
      if (!reader.skip(wire_type)) return std::unexpected("bad field " + std::to_string(number));
      continue;
    }
    if (varint_field) {
      auto value = reader.varint();
      if (!value) return std::unexpected(std::string("truncated ") + field->name);
      if (*value == 0) continue;
      if (field->kind == Kind::Bool) {
        object[field->name] = true;
      } else {
        object[field->name] = static_cast<std::int32_t>(*value);
      }
      continue;
    }
    auto value = reader.bytes();
    if (!value) return std::unexpected(std::string("truncated ") + field->name);
    switch (field->kind) {
      case Kind::String:
        if (!value->empty()) object[field->name] = std::string(*value);
        break;
      case Kind::Strings:
        object[field->name].push_back(std::string(*value));
        break;
      case Kind::StringMap: {
        auto entry = decode_map_entry(*value);
        if (!entry) return std::unexpected(entry.error());
        object[field->name][entry->first] = entry->second;
        break;
      }
      case Kind::IntOrString: {
        auto decoded = decode_int_or_string(*value);
        if (!decoded) return std::unexpected(decoded.error());
        if (!decoded->is_null()) object[field->name] = std::move(*decoded);
        break;
      }
      case Kind::Message:
      case Kind::Messages: {
        auto decoded = decode(*value, *field->message);
        if (!decoded) return std::unexpected(decoded.error());
        if (field->kind == Kind::Messages) {
          object[field->name].push_back(std::move(*decoded));
        } else if (!decoded->empty()) {
          object[field->name] = std::move(*decoded);
        }
        break;
      }
      case Kind::Int:
      case Kind::Bool:
        break;  // handled above
    }
  }
  return object;
}

}  // namespace

std::expected<json, std::string> decode_protobuf_object(std::string_view body) {
  constexpr std::string_view kMagic("k8s\0", 4);
  if (!body.starts_with(kMagic)) return std::unexpected("not a Kubernetes protobuf body (no k8s\\0 prefix)");
  // The envelope is a runtime.Unknown: typeMeta = 1, raw = 2.
  Reader envelope(body.substr(kMagic.size()));
  std::string api_version;
  std::string kind;
  std::string_view raw;
  while (!envelope.done()) {
    auto key = envelope.varint();
    if (!key) return std::unexpected("truncated envelope");
    const int number = static_cast<int>(*key >> 3);
    if ((*key & 7) != 2 || (number != 1 && number != 2)) {
      if (!envelope.skip(static_cast<int>(*key & 7))) return std::unexpected("bad envelope");
      continue;
    }
    auto value = envelope.bytes();
    if (!value) return std::unexpected("truncated envelope");
    if (number == 2) {
      raw = *value;
      continue;
    }
    Reader type_meta(*value);
    while (!type_meta.done()) {
      auto type_key = type_meta.varint();
      if (!type_key || (*type_key & 7) != 2) return std::unexpected("bad TypeMeta");
      auto text = type_meta.bytes();
      if (!text) return std::unexpected("truncated TypeMeta");
      if ((*type_key >> 3) == 1) api_version = std::string(*text);
      if ((*type_key >> 3) == 2) kind = std::string(*text);
    }
  }
  const Message* message = nullptr;
  if (api_version == "v1" && kind == "Service") message = &kService;
  if (api_version == "v1" && kind == "Namespace") message = &kNamespace;
  if (message == nullptr) {
    return std::unexpected("protobuf bodies are read for v1 Service and Namespace only, not " + api_version + " " + kind);
  }
  auto object = decode(raw, *message);
  if (!object) return std::unexpected(kind + ": " + object.error());
  (*object)["apiVersion"] = api_version;
  (*object)["kind"] = kind;
  return object;
}

}  // namespace kubenat::apiserver_sim
