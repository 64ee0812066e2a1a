#pragma once

// kube-proxy's --proxy-mode, as far as kubenat has one: which backend holds
// the service rules.

#include <optional>
#include <string_view>

namespace kubenat {

enum class ProxyMode { Iptables, Nftables, None };

// "iptables", "nftables", "none" (kube-proxy's --proxy-mode spelling).
constexpr std::string_view proxy_mode_name(ProxyMode mode) {
  switch (mode) {
    case ProxyMode::Iptables:
      return "iptables";
    case ProxyMode::Nftables:
      return "nftables";
    case ProxyMode::None:
      return "none";
  }
  return "unknown";
}

constexpr std::optional<ProxyMode> parse_proxy_mode(std::string_view name) {
  for (ProxyMode mode : {ProxyMode::Iptables, ProxyMode::Nftables, ProxyMode::None}) {
    if (name == proxy_mode_name(mode)) return mode;
  }
  return std::nullopt;
}

}  // namespace kubenat
