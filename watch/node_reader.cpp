#include "watch/node_reader.h"

#include <nlohmann/json.hpp>

#include "rules/decode.h"
#include "rules/json_or_yaml.h"

namespace kubenat {
namespace {

// Node names are DNS subdomains; anything else would be a path of our own
// making, so it is refused rather than escaped.
bool is_node_name(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

}  // namespace

std::expected<std::optional<Node>, std::string> read_node(ApiTransport& api, const std::string& name) {
  if (!is_node_name(name)) return std::unexpected("Node \"" + name + "\": not a valid node name");
  auto response = api.get("/api/v1/nodes/" + name);
  if (!response) return std::unexpected("Node " + name + ": " + response.error().message);
  if (response->status == 404) return std::nullopt;
  if (response->status != 200) {
    return std::unexpected("Node " + name + ": the API server answered " + std::to_string(response->status));
  }
  const auto object = parse_json(response->body);
  if (!object) return std::unexpected("Node " + name + ": the answer is not JSON: " + object.error());
  Decoded<Node> node = decode_node(*object);
  if (!node.value) {
    return std::unexpected("Node " + name + ": " +
                           (node.diagnostics.empty() ? std::string("not decodable") : node.diagnostics.front().to_string()));
  }
  return node.value;
}

}  // namespace kubenat
