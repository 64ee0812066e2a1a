#pragma once

// The resources the simulator serves, and the discovery documents that
// describe them (/api, /api/v1, /apis, /apis/GROUP/VERSION).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
  std::string plural;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;

  // "v1" or "discovery.k8s.io/v1".
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  std::string list_kind() const { return kind + "List"; }
};

// Index into resource_types(); the store keeps one map per resource.
using ResourceId = std::size_t;

const std::vector<ResourceType>& resource_types();
const ResourceType& resource_type(ResourceId id);
// By group, version and plural, as found in a request path.
std::optional<ResourceId> find_resource(std::string_view group, std::string_view version, std::string_view plural);
// By plural alone ("services"), for the C++ interface.
std::optional<ResourceId> find_resource_by_plural(std::string_view plural);
// By an object's apiVersion and kind.
std::optional<ResourceId> find_resource_by_kind(std::string_view api_version, std::string_view kind);

inline constexpr ResourceId kNamespaces = 0;  // resource_types()[0] is Namespace

// Discovery documents. server_address ("127.0.0.1:PORT") goes into
// serverAddressByClientCIDRs as the real server does.
nlohmann::json core_versions(const std::string& server_address);  // GET /api
nlohmann::json group_list();                                     // GET /apis
std::optional<nlohmann::json> group(std::string_view name);      // GET /apis/NAME
// GET /api/v1 or /apis/GROUP/VERSION; nullopt when no such group version.
std::optional<nlohmann::json> resource_list(std::string_view group, std::string_view version);
nlohmann::json version_info(const std::string& kubernetes_version);  // GET /version

// OpenAPI v3, just enough for kubectl: the index (GET /openapi/v3) and per
// group version the write operations of each resource, tagged with their
// kind and the fieldValidation parameter. kubectl create and apply look for
// exactly that to hand validation to the server (?fieldValidation=Strict);
// without it they need --validate=false. There are no schemas: kubectl
// explain finds nothing, and client-side apply falls back to its built-in
// merge keys, as it does against any server without them.
nlohmann::json openapi_v3_index();
// GET /openapi/v3/api/v1 or /openapi/v3/apis/GROUP/VERSION.
std::optional<nlohmann::json> openapi_v3_document(std::string_view group, std::string_view version);

}  // namespace kubenat::apiserver_sim
