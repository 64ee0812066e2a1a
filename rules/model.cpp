#include "rules/model.h"

#include <string>
#include <utility>

#include "rules/diagnostic.h"

namespace kubenat {

std::string_view protocol_lower(Protocol protocol) {
  switch (protocol) {
    case Protocol::Tcp:
      return "tcp";
    case Protocol::Udp:
      return "udp";
    case Protocol::Sctp:
      return "sctp";
  }
  return "tcp";
}

std::string_view protocol_upper(Protocol protocol) {
  switch (protocol) {
    case Protocol::Tcp:
      return "TCP";
    case Protocol::Udp:
      return "UDP";
    case Protocol::Sctp:
      return "SCTP";
  }
  return "TCP";
}

std::optional<Protocol> parse_protocol(std::string_view api_spelling) {
  // The API's enum is case-sensitive: "tcp" is rejected by the API server.
  if (api_spelling == "TCP") return Protocol::Tcp;
  if (api_spelling == "UDP") return Protocol::Udp;
  if (api_spelling == "SCTP") return Protocol::Sctp;
  return std::nullopt;
}

std::string ServicePortName::to_string() const {
  std::string out = service.to_string();
  if (!port.empty()) {
    out += ':';
    out += port;
  }
  return out;
}

std::string Node::zone() const {
  const auto it = labels.find("topology.kubernetes.io/zone");
  return it == labels.end() ? std::string() : it->second;
}

void ClusterState::put_slice(EndpointSlice slice) {
  auto& by_name = slices[slice.service()];
  std::string name = slice.id.name;
  by_name.insert_or_assign(std::move(name), std::move(slice));
}

std::string Diagnostic::to_string() const {
  std::string out = object;
  out += ": ";
  if (!field.empty()) {
    out += field;
    out += ": ";
  }
  out += message;
  return out;
}

}  // namespace kubenat
