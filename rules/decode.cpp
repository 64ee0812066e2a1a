#include "rules/decode.h"

#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "rules/kubernetes_validation.h"
#include "rules/object_reader.h"
#include "rules/rfc3339.h"

namespace kubenat {
namespace {

using nlohmann::json;
using detail::Field;
using detail::quote;
using detail::quote_json;
using detail::Reader;
using detail::with;

constexpr int kDefaultAffinityTimeoutSeconds = 10800;
constexpr int kMaxAffinityTimeoutSeconds = 86400;
constexpr int kMaxPort = 65535;

constexpr std::string_view kServiceNameLabel = "kubernetes.io/service-name";
// kube-proxy's informers select only objects *without* these labels, so
// objects carrying them never reach its proxier.
constexpr std::string_view kServiceProxyNameLabel = "service.kubernetes.io/service-proxy-name";
constexpr std::string_view kHeadlessLabel = "service.kubernetes.io/headless";
constexpr std::string_view kZoneTopologyKey = "topology.kubernetes.io/zone";
constexpr std::string_view kHostnameTopologyKey = "kubernetes.io/hostname";

std::string_view trim_space(std::string_view text) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// "Service ns1/svc1"; name parts that fail validation are shown quoted and
// escaped, so the object name itself cannot inject text into a log line.
std::string describe(std::string_view kind, const std::optional<std::string>& namespace_, const std::string& name) {
  std::string text(kind);
  text += ' ';
  if (namespace_) {
    text += is_dns_label(*namespace_) ? *namespace_ : quote(*namespace_);
    text += '/';
  }
  text += is_dns_subdomain(name) ? name : quote(name);
  return text;
}

// Reads metadata.namespace (for namespaced kinds; absent means "default", as
// for a manifest) and metadata.name, names the object in later diagnostics,
// and checks both against the Kubernetes name syntax.
[[nodiscard]] bool read_identity(Reader& reader, const JsonValue& object, std::string_view kind, bool namespaced,
                                 ObjectName& id, std::string_view consequence) {
  const Field root{object};
  if (!object.is_object()) {
    reader.report(root, with("expected an object, got " + quote_json(object), consequence));
    return false;
  }
  const Field metadata = root["metadata"];
  if (!reader.check_object(metadata, consequence)) {
    return false;
  }
  // Name the object first, so that even a wrongly typed name is reported
  // against "Service ns1/\"\"" rather than a bare kind.
  const auto text_of = [](const Field& field) {
    return std::string(field.value.string_or_empty());
  };
  id.name = text_of(metadata["name"]);
  if (namespaced) {
    id.namespace_ = text_of(metadata["namespace"]);
    if (id.namespace_.empty()) {
      id.namespace_ = "default";
    }
  }
  reader.set_object(describe(kind, namespaced ? std::optional(id.namespace_) : std::nullopt, id.name));
  std::string type_check_only;
  if (!reader.get_string(metadata["name"], type_check_only, consequence) ||
      (namespaced && !reader.get_string(metadata["namespace"], type_check_only, consequence))) {
    return false;
  }
  if (namespaced && !is_dns_label(id.namespace_)) {
    reader.report(metadata["namespace"], with("invalid namespace " + quote(id.namespace_), consequence));
    return false;
  }
  if (id.name.empty()) {
    reader.report_missing(metadata["name"], consequence);
    return false;
  }
  if (!is_dns_subdomain(id.name)) {
    reader.report(metadata["name"], with("invalid name " + quote(id.name) + " (must be a DNS subdomain)", consequence));
    return false;
  }
  return true;
}

// Why the proxy named `service_proxy_name` (empty: kube-proxy) would never
// see an object with these labels, or empty.
std::string ignored_reason(const std::map<std::string, std::string>& labels, const std::string& service_proxy_name) {
  const auto it = labels.find(std::string(kServiceProxyNameLabel));
  if (it != labels.end() && it->second != service_proxy_name) {
    return "label " + std::string(kServiceProxyNameLabel) + "=" + quote(it->second) +
           ": handled by another service proxy";
  }
  if (it == labels.end() && !service_proxy_name.empty()) {
    return "no label " + std::string(kServiceProxyNameLabel) + "=" + quote(service_proxy_name) +
           ": not for this service proxy";
  }
  if (labels.contains(std::string(kHeadlessLabel))) {
    return "label " + std::string(kHeadlessLabel) + ": kube-proxy does not watch objects with it";
  }
  return {};
}

// "TCP" when absent, as the API defaults it.
[[nodiscard]] bool read_protocol(Reader& reader, const Field& field, Protocol& out, std::string_view consequence) {
  std::string text = "TCP";
  if (!reader.get_string(field, text, consequence)) {
    return false;
  }
  const std::optional<Protocol> protocol = parse_protocol(text);
  if (!protocol) {
    reader.report(field, with("unsupported protocol " + quote(text), consequence));
    return false;
  }
  out = *protocol;
  return true;
}

// Empty (unnamed) or a DNS label, as the API server requires of the port
// names of Services, EndpointSlices and Endpoints alike.
[[nodiscard]] bool read_port_name(Reader& reader, const Field& field, std::string& out, std::string_view consequence) {
  if (!reader.get_string(field, out, consequence)) {
    return false;
  }
  if (!out.empty() && !is_dns_label(out)) {
    reader.report(field, with("invalid port name " + quote(out) +
                                  " (must be a DNS label: at most 63 characters, a-z, 0-9 and '-', "
                                  "alphanumeric at both ends)",
                              consequence));
    return false;
  }
  return true;
}

[[nodiscard]] std::optional<IpAddress> read_ip(Reader& reader, const Field& field, std::string_view consequence) {
  std::string text;
  if (!reader.get_string(field, text, consequence)) {
    return std::nullopt;
  }
  if (!field.present()) {
    reader.report_missing(field, consequence);
    return std::nullopt;
  }
  std::optional<IpAddress> address = IpAddress::parse_sloppy(text);
  if (!address) {
    reader.report(field, with("invalid IP " + quote(text), consequence));
  }
  return address;
}

// Whether the API server would take `address` (read from `field`) as `role`
// ("an endpoint", "an external IP"); if not, says so and returns false. A
// DNAT to a loopback address would hand service traffic to the node itself,
// a loopback external IP would capture the node's own traffic, and the other
// special addresses lead nowhere. Refused here too, in case the objects come
// from somewhere less strict (a snapshot, an older server).
[[nodiscard]] bool acceptable_address(Reader& reader, const Field& field, const IpAddress& address,
                                      std::string_view role, std::string_view consequence) {
  const std::string_view kind = special_address_kind(address);
  if (kind.empty()) return true;
  reader.report(field, with(quote(address.to_string()) + " is " + std::string(kind) +
                                ", which the API server refuses for " + std::string(role),
                            consequence));
  return false;
}

// Only "Local" changes anything; kube-proxy treats every other value as
// Cluster, and so do we, but a typo deserves a diagnostic.
TrafficPolicy read_traffic_policy(Reader& reader, const Field& field) {
  std::string text;
  if (!reader.get_string(field, text, "treated as Cluster")) {
    return TrafficPolicy::Cluster;
  }
  if (text == "Local") {
    return TrafficPolicy::Local;
  }
  if (!text.empty() && text != "Cluster") {
    reader.report(field, with("unknown traffic policy " + quote(text), "treated as Cluster"));
  }
  return TrafficPolicy::Cluster;
}

std::optional<ServiceType> parse_service_type(std::string_view text) {
  if (text.empty() || text == "ClusterIP") {
    return ServiceType::ClusterIP;
  }
  if (text == "NodePort") {
    return ServiceType::NodePort;
  }
  if (text == "LoadBalancer") {
    return ServiceType::LoadBalancer;
  }
  if (text == "ExternalName") {
    return ServiceType::ExternalName;
  }
  return std::nullopt;
}

// spec.clusterIPs when non-empty, else spec.clusterIP. "None" or "" means
// headless (no cluster IPs). Any unparseable IP rejects the whole Service:
// half a Service would route some families and not others.
[[nodiscard]] bool read_cluster_ips(Reader& reader, const Field& spec, std::vector<IpAddress>& out) {
  constexpr std::string_view kSkip = "service skipped";
  std::vector<Field> entries;
  if (!reader.get_list(spec["clusterIPs"], entries, kSkip)) {
    return false;
  }
  if (entries.empty() && spec["clusterIP"].present()) {
    entries.push_back(spec["clusterIP"]);
  }
  for (const Field& entry : entries) {
    std::string text;
    if (!reader.get_string(entry, text, kSkip)) {
      return false;
    }
    if (text.empty() || text == "None") {
      out.clear();
      return true;
    }
    const std::optional<IpAddress> address = IpAddress::parse_sloppy(text);
    if (!address) {
      reader.report(entry, with("invalid IP " + quote(text), kSkip));
      return false;
    }
    out.push_back(*address);
  }
  return true;
}

// spec.ports[].targetPort: kube-proxy never reads it (the rules take the
// endpoints' ports), but the API server refuses a Service whose targetPort
// is neither a port number nor an IANA service name. 0 and "" are what the
// API server replaces by the port.
[[nodiscard]] bool check_target_port(Reader& reader, const Field& field, std::string_view consequence) {
  if (!field.present()) {
    return true;
  }
  if (field.value.is_string()) {
    const std::string_view name = field.value.string();
    if (name.empty() || is_iana_service_name(name)) {
      return true;
    }
    reader.report(field, with("invalid target port name " + quote(name) +
                                  " (must be an IANA service name: at most 15 characters, a-z, 0-9 and '-', "
                                  "with a letter, no '-' at either end or twice in a row)",
                              consequence));
    return false;
  }
  if (!field.value.is_integer()) {
    reader.report(field, with("expected a port number or name, got " + quote_json(field.value), consequence));
    return false;
  }
  int number = 0;
  return reader.get_int(field, number, 0, kMaxPort, consequence);
}

// One spec.ports entry, with what the API server checks of each port on its
// own (validateServicePort). nodePort is held to 0..65535 only: the range of
// --service-node-port-range is the server's allocator's, not a rule of the
// API. A nodePort on a ClusterIP Service is refused as the API refuses it,
// since kubenat (like kube-proxy) would open any nodePort it is given.
std::optional<ServicePort> read_service_port(Reader& reader, const Field& entry, ServiceType type,
                                             bool service_has_several_ports) {
  constexpr std::string_view kSkip = "port skipped";
  ServicePort port;
  if (!reader.check_object(entry, kSkip) || !read_port_name(reader, entry["name"], port.name, kSkip) ||
      !read_protocol(reader, entry["protocol"], port.protocol, kSkip) ||
      !reader.get_int(entry["port"], port.port, 1, kMaxPort, kSkip) ||
      !reader.get_int(entry["nodePort"], port.node_port, 0, kMaxPort, kSkip) ||
      !check_target_port(reader, entry["targetPort"], kSkip)) {
    return std::nullopt;
  }
  if (!entry["port"].present()) {
    reader.report_missing(entry["port"], kSkip);
    return std::nullopt;
  }
  if (service_has_several_ports && port.name.empty()) {
    reader.report(entry["name"], with("a name is required when the Service has more than one port", kSkip));
    return std::nullopt;
  }
  if (port.node_port != 0 && type == ServiceType::ClusterIP) {
    reader.report(
        entry["nodePort"],
        with(std::to_string(port.node_port) + " on a ClusterIP Service, which the API server refuses", kSkip));
    return std::nullopt;
  }
  return port;
}

// spec.ports, with what the API server checks across ports. Names are
// unique: of two ports with one name the later wins, as it does in
// kube-proxy's port map when the protocol is the same too. No two ports
// share a protocol and port, or a protocol and nodePort: both would claim
// one destination, so the later is skipped.
[[nodiscard]] bool read_service_ports(Reader& reader, const Field& spec, ServiceType type,
                                      std::vector<ServicePort>& out) {
  std::vector<Field> entries;
  if (!reader.get_list(spec["ports"], entries, "service skipped")) {
    return false;
  }
  struct ReadPort {
    ServicePort port;
    Field entry;
  };
  std::vector<ReadPort> named;
  std::map<std::string, std::size_t> by_name;  // -> index in named
  for (const Field& entry : entries) {
    std::optional<ServicePort> port = read_service_port(reader, entry, type, entries.size() > 1);
    if (!port) {
      continue;
    }
    const auto [it, added] = by_name.try_emplace(port->name, named.size());
    if (added) {
      named.push_back({std::move(*port), entry});
      continue;
    }
    ReadPort& earlier = named[it->second];
    const std::string earlier_path = earlier.entry.path();
    reader.report(entry["name"], "same name " + quote(port->name) + " as " + earlier_path + "; " + earlier_path +
                                     " skipped");
    earlier = {std::move(*port), entry};
  }

  constexpr std::string_view kSkip = "port skipped";
  std::map<std::pair<Protocol, int>, const Field*> ports;       // -> the port entry that has it
  std::map<std::pair<Protocol, int>, const Field*> node_ports;  // the same for nodePorts
  for (const ReadPort& read : named) {
    const ServicePort& port = read.port;
    const auto described = [&](int number) {
      return std::to_string(number) + "/" + std::string(protocol_upper(port.protocol));
    };
    if (const auto it = ports.find({port.protocol, port.port}); it != ports.end()) {
      reader.report(read.entry["port"],
                    with(described(port.port) + " is also the port of " + it->second->path(), kSkip));
      continue;
    }
    if (const auto it = node_ports.find({port.protocol, port.node_port}); it != node_ports.end()) {
      reader.report(read.entry["nodePort"],
                    with(described(port.node_port) + " is also the nodePort of " + it->second->path(), kSkip));
      continue;
    }
    ports.emplace(std::pair(port.protocol, port.port), &read.entry);
    if (port.node_port != 0) {
      node_ports.emplace(std::pair(port.protocol, port.node_port), &read.entry);
    }
    out.push_back(port);
  }
  return true;
}

void read_external_ips(Reader& reader, const Field& spec, std::vector<IpAddress>& out) {
  std::vector<Field> entries;
  if (!reader.get_list(spec["externalIPs"], entries, "field ignored")) {
    return;
  }
  for (const Field& entry : entries) {
    const std::optional<IpAddress> address = read_ip(reader, entry, "entry skipped");
    if (address && acceptable_address(reader, entry, *address, "an external IP", "entry skipped")) {
      out.push_back(*address);
    }
  }
}

// Hostname-only ingress entries and non-VIP ipModes (for example "Proxy",
// where the load balancer itself forwards to the nodes) are normal and
// skipped without a diagnostic, as kube-proxy does.
void read_load_balancer_ips(Reader& reader, const Field& root, std::vector<IpAddress>& out) {
  constexpr std::string_view kSkip = "entry skipped";
  const Field status = root["status"];
  const Field load_balancer = status["loadBalancer"];
  std::vector<Field> entries;
  if (!reader.check_object(status, "field ignored") || !reader.check_object(load_balancer, "field ignored") ||
      !reader.get_list(load_balancer["ingress"], entries, "field ignored")) {
    return;
  }
  for (const Field& entry : entries) {
    std::string ip;
    std::string ip_mode = "VIP";
    if (!reader.check_object(entry, kSkip) || !reader.get_string(entry["ip"], ip, kSkip) ||
        !reader.get_string(entry["ipMode"], ip_mode, kSkip) || ip.empty() || ip_mode != "VIP") {
      continue;
    }
    if (std::optional<IpAddress> address = read_ip(reader, entry["ip"], kSkip)) {
      out.push_back(*address);
    }
  }
}

// Only spec.loadBalancerSourceRanges: kube-proxy does not read the older
// service.beta.kubernetes.io/load-balancer-source-ranges annotation (cloud
// load balancers do), so honouring it would firewall traffic kube-proxy lets
// through. Entries are trimmed because API validation lets padding through.
void read_source_ranges(Reader& reader, const Field& spec, std::vector<Cidr>& out) {
  std::vector<Field> entries;
  if (!reader.get_list(spec["loadBalancerSourceRanges"], entries, "field ignored")) {
    return;
  }
  for (const Field& entry : entries) {
    std::string text;
    if (!reader.get_string(entry, text, "entry skipped")) {
      continue;
    }
    if (const std::optional<Cidr> cidr = Cidr::parse_sloppy(trim_space(text))) {
      out.push_back(*cidr);
    } else {
      reader.report(entry, with("invalid CIDR " + quote(text), "entry skipped"));
    }
  }
}

void read_session_affinity(Reader& reader, const Field& spec, Service& service) {
  const Field field = spec["sessionAffinity"];
  std::string text;
  if (!reader.get_string(field, text, "treated as None")) {
    return;
  }
  if (text.empty() || text == "None") {
    return;
  }
  if (text != "ClientIP") {
    reader.report(field, with("unknown session affinity " + quote(text), "treated as None"));
    return;
  }
  service.session_affinity = SessionAffinity::ClientIP;
  const Field config = spec["sessionAffinityConfig"];
  const Field client_ip = config["clientIP"];
  const std::string fallback = "default " + std::to_string(kDefaultAffinityTimeoutSeconds) + " used";
  int timeout = kDefaultAffinityTimeoutSeconds;
  if (reader.check_object(config, fallback) && reader.check_object(client_ip, fallback) &&
      reader.get_int(client_ip["timeoutSeconds"], timeout, 1, kMaxAffinityTimeoutSeconds, fallback)) {
    service.session_affinity_timeout_seconds = timeout;
  }
}

[[nodiscard]] bool read_labels(Reader& reader, const JsonValue& object, std::map<std::string, std::string>& labels,
                               std::string_view consequence) {
  return reader.get_string_map(Field{object}["metadata"]["labels"], labels, consequence);
}

// The annotation the endpoints controllers put on what they write (and
// that kubenat also reads on Services), for network programming latency. An
// unreadable one is reported and ignored: it decides no rule.
inline constexpr std::string_view kTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

std::optional<std::chrono::system_clock::time_point> read_trigger_time(Reader& reader, const JsonValue& object) {
  const Field field = Field{object}["metadata"]["annotations"].key(kTriggerTimeAnnotation);
  std::string text;
  if (!field.present() || !reader.get_string(field, text, "annotation ignored")) return std::nullopt;
  auto time = parse_rfc3339(text);
  if (!time) reader.report(field, with("not an RFC 3339 time " + quote(text), "annotation ignored"));
  return time;
}

[[nodiscard]] bool read_address_type(Reader& reader, const Field& field, AddressType& out) {
  constexpr std::string_view kSkip = "slice skipped";
  std::string text;
  if (!reader.get_string(field, text, kSkip)) {
    return false;
  }
  if (text == "IPv4") {
    out = AddressType::IPv4;
  } else if (text == "IPv6") {
    out = AddressType::IPv6;
  } else if (text == "FQDN") {
    out = AddressType::FQDN;
  } else if (!field.present()) {
    reader.report_missing(field, kSkip);
    return false;
  } else {
    reader.report(field, with("unsupported address type " + quote(text), kSkip));
    return false;
  }
  return true;
}

// The API server holds a slice's port names unique; of two ports with one
// name the later is skipped (kube-proxy would merge their endpoints).
[[nodiscard]] bool read_slice_ports(Reader& reader, const Field& root, std::vector<EndpointPort>& out) {
  constexpr std::string_view kSkip = "port skipped";
  std::vector<Field> entries;
  if (!reader.get_list(root["ports"], entries, "slice skipped")) {
    return false;
  }
  std::map<std::string, const Field*> entries_by_name;
  for (const Field& entry : entries) {
    EndpointPort port;
    std::string name;
    if (!reader.check_object(entry, kSkip) || !read_port_name(reader, entry["name"], name, kSkip) ||
        !read_protocol(reader, entry["protocol"], port.protocol, kSkip) ||
        !reader.get_int(entry["port"], port.port, 0, kMaxPort, kSkip)) {
      continue;
    }
    // nil and "" differ: kube-proxy drops ports with a nil name.
    if (entry["name"].present()) {
      const auto [it, added] = entries_by_name.try_emplace(name, &entry);
      if (!added) {
        reader.report(entry["name"], with("same name " + quote(name) + " as " + it->second->path(), kSkip));
        continue;
      }
      port.name = std::move(name);
    }
    out.push_back(std::move(port));
  }
  return true;
}

// Optional node name of an endpoint or address; an invalid one is dropped
// (the endpoint then counts as on an unknown node) rather than compared.
void read_node_name(Reader& reader, const Field& field, std::string& out) {
  std::string text;
  if (!reader.get_string(field, text, "field ignored") || text.empty()) {
    return;
  }
  if (!is_dns_subdomain(text)) {
    reader.report(field, with("invalid node name " + quote(text), "field ignored"));
    return;
  }
  out = std::move(text);
}

void read_zone(Reader& reader, const Field& field, std::string& out, std::string_view consequence) {
  std::string text;
  if (!reader.get_string(field, text, consequence)) {
    return;
  }
  if (!is_label_value(text)) {
    reader.report(field, with("invalid zone " + quote(text), consequence));
    return;
  }
  out = std::move(text);
}

void read_hints(Reader& reader, const Field& hints, std::string_view list_name, std::vector<std::string>& out,
                bool names_are_nodes) {
  std::vector<Field> entries;
  if (!reader.get_list(hints[list_name], entries, "field ignored")) {
    return;
  }
  for (const Field& entry : entries) {
    std::string name;
    if (!reader.check_object(entry, "entry skipped")) {
      continue;
    }
    if (names_are_nodes) {
      read_node_name(reader, entry["name"], name);
    } else {
      read_zone(reader, entry["name"], name, "entry skipped");
    }
    if (!name.empty()) {
      out.push_back(std::move(name));
    }
  }
}

// An endpoint's node name or zone, shared through `texts` when set.
SharedText share(SharedTextPool* texts, std::string_view text) {
  return texts != nullptr ? texts->intern(text) : SharedText(text);
}

std::optional<Endpoint> read_slice_endpoint(Reader& reader, const Field& entry, AddressType address_type,
                                            SharedTextPool* texts) {
  constexpr std::string_view kSkip = "endpoint skipped";
  std::vector<Field> addresses;
  if (!reader.check_object(entry, kSkip) || !reader.get_list(entry["addresses"], addresses, kSkip)) {
    return std::nullopt;
  }
  if (addresses.empty()) {
    reader.report(entry["addresses"], with("no addresses", kSkip));
    return std::nullopt;
  }
  Endpoint endpoint;
  // kube-proxy uses only the first address.
  const std::optional<IpAddress> address = read_ip(reader, addresses.front(), kSkip);
  if (!address) {
    return std::nullopt;
  }
  const IpFamily expected = address_type == AddressType::IPv6 ? IpFamily::V6 : IpFamily::V4;
  if (address->family() != expected) {
    reader.report(addresses.front(),
                  with(std::string(ip_family_name(address->family())) + " address " + quote(address->to_string()) +
                           " in an " + std::string(ip_family_name(expected)) + " slice",
                       kSkip));
    return std::nullopt;
  }
  if (!acceptable_address(reader, addresses.front(), *address, "an endpoint", kSkip)) {
    return std::nullopt;
  }
  endpoint.address = *address;

  const Field conditions = entry["conditions"];
  if (!reader.check_object(conditions, kSkip) || !reader.get_bool(conditions["ready"], endpoint.ready, kSkip) ||
      !reader.get_bool(conditions["serving"], endpoint.serving, kSkip) ||
      !reader.get_bool(conditions["terminating"], endpoint.terminating, kSkip)) {
    return std::nullopt;
  }

  std::string node_name;
  std::string zone;
  read_node_name(reader, entry["nodeName"], node_name);
  read_zone(reader, entry["zone"], zone, "field ignored");
  // discovery.k8s.io/v1beta1 kept node and zone in a topology map.
  const Field topology = entry["topology"];
  if (reader.check_object(topology, "field ignored")) {
    if (!entry["nodeName"].present()) {
      read_node_name(reader, topology.key(kHostnameTopologyKey), node_name);
    }
    if (!entry["zone"].present()) {
      read_zone(reader, topology.key(kZoneTopologyKey), zone, "field ignored");
    }
  }
  endpoint.node_name = share(texts, node_name);
  endpoint.zone = share(texts, zone);

  const Field hints = entry["hints"];
  if (reader.check_object(hints, "field ignored")) {
    std::vector<std::string> zone_hints;
    std::vector<std::string> node_hints;
    read_hints(reader, hints, "forZones", zone_hints, false);
    read_hints(reader, hints, "forNodes", node_hints, true);
    endpoint.hints = EndpointHints(std::move(zone_hints), std::move(node_hints));
  }
  return endpoint;
}

// One v1 Endpoints address (addresses[] or notReadyAddresses[]).
std::optional<Endpoint> read_endpoints_address(Reader& reader, const Field& entry, bool ready,
                                               SharedTextPool* texts) {
  constexpr std::string_view kSkip = "endpoint skipped";
  if (!reader.check_object(entry, kSkip)) {
    return std::nullopt;
  }
  const std::optional<IpAddress> address = read_ip(reader, entry["ip"], kSkip);
  if (!address || !acceptable_address(reader, entry["ip"], *address, "an endpoint", kSkip)) {
    return std::nullopt;
  }
  Endpoint endpoint;
  endpoint.address = *address;
  endpoint.ready = ready;
  endpoint.serving = ready;
  std::string node_name;
  read_node_name(reader, entry["nodeName"], node_name);
  endpoint.node_name = share(texts, node_name);
  return endpoint;
}

}  // namespace

bool is_valid_label_value(std::string_view text) { return is_label_value(text); }

// The documents tests, snapshots and watch events hold are copied into a
// tree: one reader for both, so a diagnostic reads the same from either.
Decoded<Service> decode_service(const json& object, const DecodeOptions& options) {
  const JsonTree tree = JsonTree::from_json(object);
  return decode_service(tree.root(), options);
}

Decoded<EndpointSlice> decode_endpoint_slice(const json& object, const DecodeOptions& options) {
  const JsonTree tree = JsonTree::from_json(object);
  return decode_endpoint_slice(tree.root(), options);
}

Decoded<std::vector<EndpointSlice>> decode_endpoints_v1(const json& object, const DecodeOptions& options) {
  const JsonTree tree = JsonTree::from_json(object);
  return decode_endpoints_v1(tree.root(), options);
}

Decoded<Node> decode_node(const json& object) {
  const JsonTree tree = JsonTree::from_json(object);
  return decode_node(tree.root());
}

Decoded<Service> decode_service(const JsonValue& object, const DecodeOptions& options) {
  Decoded<Service> result;
  Reader reader("Service", result.diagnostics);
  constexpr std::string_view kSkip = "service skipped";
  Service service;
  std::map<std::string, std::string> labels;
  if (!read_identity(reader, object, "Service", true, service.id, kSkip) ||
      !read_labels(reader, object, labels, kSkip)) {
    return result;
  }
  // Service names are DNS-1035 labels (ValidateServiceName), so at most 63
  // characters: with the namespace and a port name they keep iptables
  // comments within the 255 characters iptables-restore takes.
  if (!is_dns_1035_label(service.id.name)) {
    reader.report(Field{object}["metadata"]["name"],
                  with("invalid Service name " + quote(service.id.name) +
                           " (must be a DNS-1035 label: at most 63 characters, a-z, 0-9 and '-', starting with a "
                           "letter and ending alphanumeric)",
                       kSkip));
    return result;
  }
  result.ignored_reason = ignored_reason(labels, options.service_proxy_name);
  if (!result.ignored_reason.empty()) {
    return result;
  }
  service.last_change_trigger_time = read_trigger_time(reader, object);

  const Field root{object};
  const Field spec = root["spec"];
  if (!reader.check_object(spec, kSkip)) {
    return result;
  }
  std::string type_text;
  if (!reader.get_string(spec["type"], type_text, kSkip)) {
    return result;
  }
  const std::optional<ServiceType> type = parse_service_type(type_text);
  if (!type) {
    reader.report(spec["type"], with("unknown Service type " + quote(type_text), kSkip));
    return result;
  }
  service.type = *type;
  if (service.type == ServiceType::ExternalName) {
    result.value = std::move(service);
    return result;
  }

  if (!read_cluster_ips(reader, spec, service.cluster_ips) ||
      !read_service_ports(reader, spec, service.type, service.ports)) {
    return result;
  }
  read_external_ips(reader, spec, service.external_ips);
  read_load_balancer_ips(reader, root, service.load_balancer_ips);
  read_source_ranges(reader, spec, service.load_balancer_source_ranges);
  service.external_traffic_policy = read_traffic_policy(reader, spec["externalTrafficPolicy"]);
  service.internal_traffic_policy = read_traffic_policy(reader, spec["internalTrafficPolicy"]);
  read_session_affinity(reader, spec, service);
  (void)reader.get_int(spec["healthCheckNodePort"], service.health_check_node_port, 0, kMaxPort, "field ignored");

  result.value = std::move(service);
  return result;
}

Decoded<EndpointSlice> decode_endpoint_slice(const JsonValue& object, const DecodeOptions& options) {
  Decoded<EndpointSlice> result;
  Reader reader("EndpointSlice", result.diagnostics);
  constexpr std::string_view kSkip = "slice skipped";
  EndpointSlice slice;
  std::map<std::string, std::string> labels;
  if (!read_identity(reader, object, "EndpointSlice", true, slice.id, kSkip) ||
      !read_labels(reader, object, labels, kSkip)) {
    return result;
  }
  result.ignored_reason = ignored_reason(labels, options.service_proxy_name);
  if (!result.ignored_reason.empty()) {
    return result;
  }

  const Field root{object};
  const Field service_label = root["metadata"]["labels"].key(kServiceNameLabel);
  const auto service_name = labels.find(std::string(kServiceNameLabel));
  if (service_name == labels.end() || service_name->second.empty()) {
    reader.report_missing(service_label, kSkip);
    return result;
  }
  if (!is_dns_subdomain(service_name->second)) {
    reader.report(service_label, with("invalid Service name " + quote(service_name->second), kSkip));
    return result;
  }
  slice.service_name = service_name->second;
  slice.last_change_trigger_time = read_trigger_time(reader, object);

  if (!read_address_type(reader, root["addressType"], slice.address_type) ||
      !read_slice_ports(reader, root, slice.ports)) {
    return result;
  }

  std::vector<Field> entries;
  if (!reader.get_list(root["endpoints"], entries, kSkip)) {
    return result;
  }
  // kube-proxy ignores FQDN slices; their endpoints are not even looked at.
  if (slice.address_type != AddressType::FQDN) {
    // The slice is kept as long as it exists: no slack from growing.
    slice.endpoints.reserve(entries.size());
    for (const Field& entry : entries) {
      if (std::optional<Endpoint> endpoint = read_slice_endpoint(reader, entry, slice.address_type, options.texts)) {
        slice.endpoints.push_back(std::move(*endpoint));
      }
    }
  }
  result.value = std::move(slice);
  return result;
}

Decoded<std::vector<EndpointSlice>> decode_endpoints_v1(const JsonValue& object, const DecodeOptions& options) {
  Decoded<std::vector<EndpointSlice>> result;
  Reader reader("Endpoints", result.diagnostics);
  constexpr std::string_view kSkip = "endpoints skipped";
  ObjectName id;
  std::map<std::string, std::string> labels;
  if (!read_identity(reader, object, "Endpoints", true, id, kSkip) || !read_labels(reader, object, labels, kSkip)) {
    return result;
  }
  result.ignored_reason = ignored_reason(labels, options.service_proxy_name);
  if (!result.ignored_reason.empty()) {
    return result;
  }

  std::vector<Field> subsets;
  if (!reader.get_list(Field{object}["subsets"], subsets, kSkip)) {
    return result;
  }
  std::vector<EndpointSlice> slices;
  for (std::size_t i = 0; i < subsets.size(); ++i) {
    const Field& subset = subsets[i];
    if (!reader.check_object(subset, "subset skipped")) {
      continue;
    }
    std::vector<Field> port_entries;
    std::vector<Field> ready_entries;
    std::vector<Field> not_ready_entries;
    if (!reader.get_list(subset["ports"], port_entries, "subset skipped") ||
        !reader.get_list(subset["addresses"], ready_entries, "subset skipped") ||
        !reader.get_list(subset["notReadyAddresses"], not_ready_entries, "subset skipped")) {
      continue;
    }

    std::vector<EndpointPort> ports;
    for (const Field& entry : port_entries) {
      constexpr std::string_view kPortSkip = "port skipped";
      std::string name;
      EndpointPort port;
      if (!reader.check_object(entry, kPortSkip) || !read_port_name(reader, entry["name"], name, kPortSkip) ||
          !read_protocol(reader, entry["protocol"], port.protocol, kPortSkip) ||
          !reader.get_int(entry["port"], port.port, 1, kMaxPort, kPortSkip)) {
        continue;
      }
      if (!entry["port"].present()) {
        reader.report_missing(entry["port"], kPortSkip);
        continue;
      }
      // v1 Endpoints have no nil port names: absent means the unnamed port.
      port.name = std::move(name);
      ports.push_back(std::move(port));
    }

    // A slice holds one address family; a subset may (in principle) mix them.
    EndpointSlice v4;
    EndpointSlice v6;
    v4.address_type = AddressType::IPv4;
    v6.address_type = AddressType::IPv6;
    for (const auto& [entries, ready] : {std::pair(&ready_entries, true), std::pair(&not_ready_entries, false)}) {
      for (const Field& entry : *entries) {
        if (std::optional<Endpoint> endpoint = read_endpoints_address(reader, entry, ready, options.texts)) {
          (endpoint->address.is_v4() ? v4 : v6).endpoints.push_back(std::move(*endpoint));
        }
      }
    }
    for (auto* slice : {&v4, &v6}) {
      if (slice->endpoints.empty()) {
        continue;
      }
      slice->id = {id.namespace_, id.name + "/subset-" + std::to_string(i) +
                                      (slice->address_type == AddressType::IPv4 ? "-ipv4" : "-ipv6")};
      slice->service_name = id.name;
      slice->ports = ports;
      slice->from_endpoints_v1 = true;
      slices.push_back(std::move(*slice));
    }
  }
  result.value = std::move(slices);
  return result;
}

Decoded<Node> decode_node(const JsonValue& object) {
  Decoded<Node> result;
  Reader reader("Node", result.diagnostics);
  constexpr std::string_view kSkip = "node skipped";
  ObjectName id;
  Node node;
  if (!read_identity(reader, object, "Node", false, id, kSkip) || !read_labels(reader, object, node.labels, kSkip)) {
    return result;
  }
  node.name = std::move(id.name);

  const Field root{object};
  const Field status = root["status"];
  std::vector<Field> addresses;
  if (reader.check_object(status, "field ignored") &&
      reader.get_list(status["addresses"], addresses, "field ignored")) {
    for (const Field& entry : addresses) {
      NodeAddress address;
      if (reader.check_object(entry, "entry skipped") &&
          reader.get_string(entry["type"], address.type, "entry skipped") &&
          reader.get_string(entry["address"], address.address, "entry skipped")) {
        node.addresses.push_back(std::move(address));
      }
    }
  }

  // Load balancers drain a node that is going away (KEP-3836).
  node.being_deleted = root["metadata"]["deletionTimestamp"].present();

  const Field spec = root["spec"];
  std::vector<Field> taints;
  if (reader.check_object(spec, "field ignored") && reader.get_list(spec["taints"], taints, "field ignored")) {
    for (const Field& entry : taints) {
      std::string key;
      if (!reader.check_object(entry, "entry skipped") || !reader.get_string(entry["key"], key, "entry skipped")) {
        continue;
      }
      if (key.empty()) {
        reader.report_missing(entry["key"], "entry skipped");
        continue;
      }
      node.taint_keys.push_back(std::move(key));
    }
  }
  std::vector<Field> cidrs;
  if (reader.check_object(spec, "field ignored") && reader.get_list(spec["podCIDRs"], cidrs, "field ignored")) {
    if (cidrs.empty() && spec["podCIDR"].present()) {
      cidrs.push_back(spec["podCIDR"]);
    }
    // The API server takes at most one pod CIDR per family.
    std::map<IpFamily, const Field*> entries_by_family;
    for (const Field& entry : cidrs) {
      std::string text;
      if (!reader.get_string(entry, text, "entry skipped") || text.empty()) {
        continue;
      }
      const std::optional<Cidr> cidr = Cidr::parse_sloppy(text);
      if (!cidr) {
        reader.report(entry, with("invalid CIDR " + quote(text), "entry skipped"));
        continue;
      }
      const auto [it, added] = entries_by_family.try_emplace(cidr->family(), &entry);
      if (!added) {
        reader.report(entry, with(std::string(ip_family_name(cidr->family())) + " CIDR " + quote(text) + " after " +
                                      it->second->path() + " (one per family)",
                                  "entry skipped"));
        continue;
      }
      node.pod_cidrs.push_back(*cidr);
    }
  }

  result.value = std::move(node);
  return result;
}

}  // namespace kubenat
