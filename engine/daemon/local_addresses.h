#pragma once

// The addresses of this host's interfaces, which --nodeport-addresses
// selects NodePort addresses from.

#include <expected>
#include <string>
#include <vector>

#include "rules/ip.h"

namespace kubenat {

// Every IPv4 and IPv6 address on an interface of this network namespace
// (getifaddrs), loopback included, without duplicates.
[[nodiscard]] std::expected<std::vector<IpAddress>, std::string> local_addresses();

}  // namespace kubenat
