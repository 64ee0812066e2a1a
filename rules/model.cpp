#include "rules/model.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "rules/diagnostic.h"

namespace kubenat {

EndpointHints::EndpointHints(std::vector<std::string> zones, std::vector<std::string> nodes) {
  if (!zones.empty() || !nodes.empty()) lists_ = std::make_unique<const Lists>(std::move(zones), std::move(nodes));
}

EndpointHints::EndpointHints(const EndpointHints& other)
    : lists_(other.lists_ == nullptr ? nullptr : std::make_unique<const Lists>(*other.lists_)) {}

EndpointHints& EndpointHints::operator=(const EndpointHints& other) {
  if (this != &other) *this = EndpointHints(other);
  return *this;
}

EndpointHints::EndpointHints(EndpointHints&& other) noexcept = default;
EndpointHints& EndpointHints::operator=(EndpointHints&& other) noexcept = default;
EndpointHints::~EndpointHints() = default;

std::span<const std::string> EndpointHints::zones() const {
  return lists_ == nullptr ? std::span<const std::string>() : std::span<const std::string>(lists_->zones);
}

std::span<const std::string> EndpointHints::nodes() const {
  return lists_ == nullptr ? std::span<const std::string>() : std::span<const std::string>(lists_->nodes);
}

bool operator==(const EndpointHints& a, const EndpointHints& b) {
  return std::ranges::equal(a.zones(), b.zones()) && std::ranges::equal(a.nodes(), b.nodes());
}

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
