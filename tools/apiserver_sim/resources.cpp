#include "tools/apiserver_sim/resources.h"

#include <algorithm>
#include <set>

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

std::vector<ResourceType> make_types() {
  // Namespace first: kNamespaces relies on it.
  return {
      {"", "v1", "Namespace", "namespaces", "namespace", false, {"ns"}, {}},
      {"", "v1", "Service", "services", "service", true, {"svc"}, {"all"}},
      {"", "v1", "Endpoints", "endpoints", "endpoints", true, {"ep"}, {}},
      {"", "v1", "Node", "nodes", "node", false, {"no"}, {}},
      {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", true, {}, {}},
  };
}

json resource_entry(const ResourceType& type) {
  json entry = {
      {"name", type.plural},
      {"singularName", type.singular},
      {"namespaced", type.namespaced},
      {"kind", type.kind},
      {"verbs", {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}},
  };
  if (!type.short_names.empty()) entry["shortNames"] = type.short_names;
  if (!type.categories.empty()) entry["categories"] = type.categories;
  return entry;
}

json status_entry(const ResourceType& type) {
  return {
      {"name", type.plural + "/status"},
      {"singularName", ""},
      {"namespaced", type.namespaced},
      {"kind", type.kind},
      {"verbs", {"get", "patch", "update"}},
  };
}

json group_entry(const std::string& name) {
  json versions = json::array();
  for (const ResourceType& type : resource_types()) {
    if (type.group != name) continue;
    json version = {{"groupVersion", type.api_version()}, {"version", type.version}};
    if (std::find(versions.begin(), versions.end(), version) == versions.end()) versions.push_back(version);
  }
  return {{"name", name}, {"versions", versions}, {"preferredVersion", versions.at(0)}};
}

}  // namespace

const std::vector<ResourceType>& resource_types() {
  static const std::vector<ResourceType> types = make_types();
  return types;
}

const ResourceType& resource_type(ResourceId id) { return resource_types().at(id); }

std::optional<ResourceId> find_resource(std::string_view group, std::string_view version, std::string_view plural) {
  const auto& types = resource_types();
  for (ResourceId id = 0; id < types.size(); ++id) {
    if (types[id].group == group && types[id].version == version && types[id].plural == plural) return id;
  }
  return std::nullopt;
}

std::optional<ResourceId> find_resource_by_plural(std::string_view plural) {
  const auto& types = resource_types();
  for (ResourceId id = 0; id < types.size(); ++id) {
    if (types[id].plural == plural) return id;
  }
  return std::nullopt;
}

std::optional<ResourceId> find_resource_by_kind(std::string_view api_version, std::string_view kind) {
  const auto& types = resource_types();
  for (ResourceId id = 0; id < types.size(); ++id) {
    if (types[id].api_version() == api_version && types[id].kind == kind) return id;
  }
  return std::nullopt;
}

json core_versions(const std::string& server_address) {
  return {
      {"kind", "APIVersions"},
      {"versions", {"v1"}},
      {"serverAddressByClientCIDRs", {{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", server_address}}}},
  };
}

json group_list() {
  std::set<std::string> names;
  for (const ResourceType& type : resource_types()) {
    if (!type.group.empty()) names.insert(type.group);
  }
  json groups = json::array();
  for (const std::string& name : names) groups.push_back(group_entry(name));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> group(std::string_view name) {
  for (const ResourceType& type : resource_types()) {
    if (!type.group.empty() && type.group == name) {
      json entry = group_entry(type.group);
      entry["kind"] = "APIGroup";
      entry["apiVersion"] = "v1";
      return entry;
    }
  }
  return std::nullopt;
}

std::optional<json> resource_list(std::string_view group_name, std::string_view version) {
  json resources = json::array();
  std::string group_version;
  for (const ResourceType& type : resource_types()) {
    if (type.group != group_name || type.version != version) continue;
    group_version = type.api_version();
    resources.push_back(resource_entry(type));
    resources.push_back(status_entry(type));
  }
  if (resources.empty()) return std::nullopt;
  return json{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", group_version}, {"resources", resources}};
}

json version_info(const std::string& kubernetes_version) {
  // "v1.32.0" -> major "1", minor "32".
  std::string major = "1";
  std::string minor = "32";
  const std::size_t dot = kubernetes_version.find('.');
  if (kubernetes_version.size() > 1 && kubernetes_version[0] == 'v' && dot != std::string::npos) {
    major = kubernetes_version.substr(1, dot - 1);
    const std::size_t second = kubernetes_version.find('.', dot + 1);
    minor = kubernetes_version.substr(dot + 1, second == std::string::npos ? std::string::npos : second - dot - 1);
  }
  return {
      {"major", major},
      {"minor", minor},
      {"gitVersion", kubernetes_version},
      {"gitCommit", "kubenat-apiserver-sim"},
      {"gitTreeState", "clean"},
      {"buildDate", "2025-01-01T00:00:00Z"},
      {"goVersion", "go1.23"},
      {"compiler", "gc"},
      {"platform", "linux/amd64"},
  };
}

json openapi_v3_index() {
  json paths = json::object();
  for (const ResourceType& type : resource_types()) {
    const std::string path = type.group.empty() ? "api/" + type.version : "apis/" + type.api_version();
    // The hash lets clients cache; the documents never change in a run.
    paths[path] = {{"serverRelativeURL", "/openapi/v3/" + path + "?hash=kubenat-sim-1"}};
  }
  return {{"paths", paths}};
}

std::optional<json> openapi_v3_document(std::string_view group_name, std::string_view version) {
  json paths = json::object();
  bool found = false;
  for (const ResourceType& type : resource_types()) {
    if (type.group != group_name || type.version != version) continue;
    found = true;
    const std::string base = type.group.empty() ? "/api/" + type.version : "/apis/" + type.api_version();
    const std::string collection =
        base + (type.namespaced ? "/namespaces/{namespace}/" : "/") + type.plural;
    const json kind = {{"group", type.group}, {"version", type.version}, {"kind", type.kind}};
    const json field_validation = {{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}};
    auto operation = [&](const std::string& id) {
      return json{{"operationId", id + type.kind},
                  {"x-kubernetes-group-version-kind", kind},
                  {"parameters", json::array({field_validation})},
                  {"responses", {{"200", {{"description", "OK"}}}}}};
    };
    paths[collection] = {{"post", operation("create")}};
    paths[collection + "/{name}"] = {{"put", operation("replace")}, {"patch", operation("patch")}};
  }
  if (!found) return std::nullopt;
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", "kubenat-apiserver-sim"}}},
              {"paths", paths},
              {"components", {{"schemas", json::object()}}}};
}

}  // namespace kubenat::apiserver_sim
