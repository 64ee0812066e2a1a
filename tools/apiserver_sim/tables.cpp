#include "tools/apiserver_sim/tables.h"

#include <algorithm>

#include "tools/apiserver_sim/text.h"

namespace kubenat::apiserver_sim {
namespace {

using nlohmann::json;

struct Column {
  const char* name;
  const char* type;
  int priority;  // 1: only with -o wide
  const char* description;
};

const json& field(const json& object, std::initializer_list<const char*> path) {
  static const json null;
  const json* node = &object;
  for (const char* step : path) {
    if (!node->is_object()) return null;
    auto it = node->find(step);
    if (it == node->end()) return null;
    node = &*it;
  }
  return *node;
}

std::string text_of(const json& value, const std::string& fallback = "") {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number()) return value.dump();
  return fallback;
}

std::string join(const std::vector<std::string>& parts, const std::string& separator, const std::string& none) {
  if (parts.empty()) return none;
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

std::string age(const json& object, std::chrono::system_clock::time_point now) {
  auto created = parse_rfc3339(text_of(field(object, {"metadata", "creationTimestamp"})));
  if (!created) return "<unknown>";
  return human_duration(std::chrono::duration_cast<std::chrono::seconds>(now - *created));
}

// At most three items, then "+ N more...", as kubectl's endpoint columns.
std::string first_three(const std::vector<std::string>& items, const std::string& none) {
  if (items.empty()) return none;
  std::vector<std::string> shown(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(3, items.size())));
  std::string out = join(shown, ",", none);
  if (items.size() > 3) out += " + " + std::to_string(items.size() - 3) + " more...";
  return out;
}

std::vector<Column> columns_for(const std::string& kind) {
  if (kind == "Service") {
    return {{"Name", "string", 0, "Name must be unique within a namespace."},
            {"Type", "string", 0, "type determines how the Service is exposed."},
            {"Cluster-IP", "string", 0, "clusterIP is the IP address of the service."},
            {"External-IP", "string", 0, "externalIPs or the load balancer's ingress points."},
            {"Port(s)", "string", 0, "The list of ports that are exposed by this service."},
            {"Age", "string", 0, "CreationTimestamp."},
            {"Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."}};
  }
  if (kind == "EndpointSlice") {
    return {{"Name", "string", 0, "Name must be unique within a namespace."},
            {"AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice."},
            {"Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint."},
            {"Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."},
            {"Age", "string", 0, "CreationTimestamp."}};
  }
  if (kind == "Endpoints") {
    return {{"Name", "string", 0, "Name must be unique within a namespace."},
            {"Endpoints", "string", 0, "Endpoints is the list of endpoints."},
            {"Age", "string", 0, "CreationTimestamp."}};
  }
  if (kind == "Node") {
    return {{"Name", "string", 0, "Name must be unique."},
            {"Status", "string", 0, "The status of the node."},
            {"Roles", "string", 0, "The roles of the node."},
            {"Age", "string", 0, "CreationTimestamp."},
            {"Version", "string", 0, "Kubelet Version reported by the node."},
            {"Internal-IP", "string", 1, "List of internal IPs for the node."},
            {"External-IP", "string", 1, "List of external IPs for the node."}};
  }
  if (kind == "Namespace") {
    return {{"Name", "string", 0, "Name must be unique."},
            {"Status", "string", 0, "The status of the namespace."},
            {"Age", "string", 0, "CreationTimestamp."}};
  }
  return {{"Name", "string", 0, "Name must be unique."}, {"Created At", "date", 0, "CreationTimestamp."}};
}

json service_cells(const json& object, std::chrono::system_clock::time_point now) {
  const json& spec = field(object, {"spec"});
  const std::string type = text_of(spec.value("type", json()), "ClusterIP");
  std::vector<std::string> external;
  if (type == "ExternalName") {
    external.push_back(text_of(spec.value("externalName", json())));
  } else {
    if (const json& ips = field(spec, {"externalIPs"}); ips.is_array()) {
      for (const json& ip : ips) external.push_back(text_of(ip));
    }
    if (type == "LoadBalancer") {
      const json& ingress = field(object, {"status", "loadBalancer", "ingress"});
      if (ingress.is_array()) {
        for (const json& point : ingress) {
          std::string where = text_of(point.value("ip", json()));
          if (where.empty()) where = text_of(point.value("hostname", json()));
          if (!where.empty()) external.push_back(where);
        }
      }
      if (external.empty()) external.push_back("<pending>");
    }
  }
  std::vector<std::string> ports;
  if (const json& list = field(spec, {"ports"}); list.is_array()) {
    for (const json& port : list) {
      std::string text = text_of(port.value("port", json()));
      if (port.contains("nodePort")) text += ":" + text_of(port["nodePort"]);
      ports.push_back(text + "/" + text_of(port.value("protocol", json()), "TCP"));
    }
  }
  std::vector<std::string> selector;
  if (const json& labels = field(spec, {"selector"}); labels.is_object()) {
    for (const auto& [key, value] : labels.items()) selector.push_back(key + "=" + text_of(value));
  }
  return {text_of(field(object, {"metadata", "name"})),
          type,
          text_of(spec.value("clusterIP", json()), "<none>"),
          join(external, ",", "<none>"),
          join(ports, ",", "<none>"),
          age(object, now),
          join(selector, ",", "<none>")};
}

json endpoint_slice_cells(const json& object, std::chrono::system_clock::time_point now) {
  std::vector<std::string> ports;
  if (const json& list = field(object, {"ports"}); list.is_array()) {
    for (const json& port : list) ports.push_back(text_of(port.value("port", json()), "<unset>"));
  }
  std::vector<std::string> addresses;
  if (const json& endpoints = field(object, {"endpoints"}); endpoints.is_array()) {
    for (const json& endpoint : endpoints) {
      if (const json& list = field(endpoint, {"addresses"}); list.is_array()) {
        for (const json& address : list) addresses.push_back(text_of(address));
      }
    }
  }
  return {text_of(field(object, {"metadata", "name"})), text_of(field(object, {"addressType"})),
          join(ports, ",", "<unset>"), first_three(addresses, "<unset>"), age(object, now)};
}

json endpoints_cells(const json& object, std::chrono::system_clock::time_point now) {
  std::vector<std::string> endpoints;
  if (const json& subsets = field(object, {"subsets"}); subsets.is_array()) {
    for (const json& subset : subsets) {
      const json& addresses = field(subset, {"addresses"});
      const json& ports = field(subset, {"ports"});
      if (!addresses.is_array()) continue;
      for (const json& address : addresses) {
        const std::string ip = text_of(field(address, {"ip"}));
        if (!ports.is_array() || ports.empty()) {
          endpoints.push_back(ip);
          continue;
        }
        for (const json& port : ports) endpoints.push_back(ip + ":" + text_of(field(port, {"port"})));
      }
    }
  }
  return {text_of(field(object, {"metadata", "name"})), first_three(endpoints, "<none>"), age(object, now)};
}

json node_cells(const json& object, std::chrono::system_clock::time_point now) {
  std::string status = "Unknown";
  if (const json& conditions = field(object, {"status", "conditions"}); conditions.is_array()) {
    for (const json& condition : conditions) {
      if (text_of(field(condition, {"type"})) != "Ready") continue;
      status = text_of(field(condition, {"status"})) == "True" ? "Ready" : "NotReady";
    }
  }
  if (field(object, {"spec", "unschedulable"}) == json(true)) status += ",SchedulingDisabled";
  std::vector<std::string> roles;
  if (const json& labels = field(object, {"metadata", "labels"}); labels.is_object()) {
    constexpr std::string_view kRole = "node-role.kubernetes.io/";
    for (const auto& [key, value] : labels.items()) {
      if (key.starts_with(kRole) && key.size() > kRole.size()) roles.push_back(key.substr(kRole.size()));
    }
  }
  std::vector<std::string> internal;
  std::vector<std::string> external;
  if (const json& addresses = field(object, {"status", "addresses"}); addresses.is_array()) {
    for (const json& address : addresses) {
      const std::string type = text_of(field(address, {"type"}));
      if (type == "InternalIP") internal.push_back(text_of(field(address, {"address"})));
      if (type == "ExternalIP") external.push_back(text_of(field(address, {"address"})));
    }
  }
  return {text_of(field(object, {"metadata", "name"})),
          status,
          join(roles, ",", "<none>"),
          age(object, now),
          text_of(field(object, {"status", "nodeInfo", "kubeletVersion"})),
          join(internal, ",", "<none>"),
          join(external, ",", "<none>")};
}

json cells_for(const std::string& kind, const json& object, std::chrono::system_clock::time_point now) {
  if (kind == "Service") return service_cells(object, now);
  if (kind == "EndpointSlice") return endpoint_slice_cells(object, now);
  if (kind == "Endpoints") return endpoints_cells(object, now);
  if (kind == "Node") return node_cells(object, now);
  if (kind == "Namespace") {
    return {text_of(field(object, {"metadata", "name"})), text_of(field(object, {"status", "phase"}), "Active"),
            age(object, now)};
  }
  return {text_of(field(object, {"metadata", "name"})), text_of(field(object, {"metadata", "creationTimestamp"}))};
}

}  // namespace

std::optional<TableRequest> table_request(std::string_view accept, std::string_view include_object) {
  // Accept is a list of media types with parameters; the first Table one wins.
  std::size_t start = 0;
  while (start < accept.size()) {
    std::size_t end = accept.find(',', start);
    if (end == std::string_view::npos) end = accept.size();
    const std::string_view media = accept.substr(start, end - start);
    start = end + 1;
    if (media.find("as=Table") == std::string_view::npos || media.find("g=meta.k8s.io") == std::string_view::npos) {
      continue;
    }
    TableRequest request;
    request.api_version = media.find("v=v1beta1") != std::string_view::npos ? "meta.k8s.io/v1beta1" : "meta.k8s.io/v1";
    if (include_object == "Object") {
      request.include = IncludeObject::Object;
    } else if (include_object == "None") {
      request.include = IncludeObject::None;
    }
    return request;
  }
  return std::nullopt;
}

json make_table(ResourceId resource, const std::vector<const json*>& objects, const TableRequest& request,
                json list_metadata, std::chrono::system_clock::time_point now) {
  const ResourceType& type = resource_type(resource);
  json definitions = json::array();
  for (const Column& column : columns_for(type.kind)) {
    json definition = {{"name", column.name}, {"type", column.type}, {"format", ""}, {"description", column.description},
                       {"priority", column.priority}};
    if (std::string_view(column.name) == "Name") definition["format"] = "name";
    definitions.push_back(std::move(definition));
  }
  json rows = json::array();
  for (const json* object : objects) {
    json row = {{"cells", cells_for(type.kind, *object, now)}};
    if (request.include == IncludeObject::Object) {
      row["object"] = *object;
    } else if (request.include == IncludeObject::Metadata) {
      row["object"] = {{"kind", "PartialObjectMetadata"},
                       {"apiVersion", "meta.k8s.io/v1"},
                       {"metadata", object->value("metadata", json::object())}};
    }
    rows.push_back(std::move(row));
  }
  return {{"kind", "Table"},
          {"apiVersion", request.api_version},
          {"metadata", std::move(list_metadata)},
          {"columnDefinitions", std::move(definitions)},
          {"rows", std::move(rows)}};
}

}  // namespace kubenat::apiserver_sim
