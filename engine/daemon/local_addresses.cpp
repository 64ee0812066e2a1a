#include "engine/daemon/local_addresses.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

namespace kubenat {

std::expected<std::vector<IpAddress>, std::string> local_addresses() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return std::unexpected(std::string("getifaddrs: ") + std::strerror(errno));
  std::vector<IpAddress> out;
  for (ifaddrs* it = list; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr) continue;
    std::optional<IpAddress> ip;
    if (it->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
      ip = IpAddress::from_bytes(std::span(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr), 4));
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(it->ifa_addr);
      ip = IpAddress::from_bytes(std::span(reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr), 16));
    }
    if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace kubenat
