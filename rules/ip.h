#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace kubenat {

enum class IpFamily : std::uint8_t { V4, V6 };

// "IPv4" / "IPv6", as Kubernetes spells ipFamilies.
std::string_view ip_family_name(IpFamily family);

// An IPv4 or IPv6 address. IPv4 addresses (and IPv4-mapped IPv6 addresses,
// which Go's net package treats as IPv4) have family V4.
class IpAddress {
 public:
  IpAddress() = default;

  // Strict parse: dotted quad without leading zeros, or RFC 4291 IPv6 text.
  static std::optional<IpAddress> parse(std::string_view text);
  // Kubernetes' "sloppy" parse (netutils.ParseIPSloppy): like parse(), but
  // IPv4 octets may carry leading zeros, read as decimal ("010.0.0.01" is
  // 10.0.0.1). Used for every address read from API objects.
  static std::optional<IpAddress> parse_sloppy(std::string_view text);

  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  // From network-order bytes, as the kernel reports them: 4 bytes give a V4
  // address, 16 bytes a V6 one (V4 if IPv4-mapped, as for parse()). Any other
  // length gives nullopt.
  static std::optional<IpAddress> from_bytes(std::span<const std::uint8_t> bytes);

  IpFamily family() const { return family_; }
  bool is_v4() const { return family_ == IpFamily::V4; }
  bool is_loopback() const;
  bool is_unspecified() const;
  // 169.254.0.0/16 and fe80::/10, as Go's IsLinkLocalUnicast.
  bool is_link_local_unicast() const;
  // 224.0.0.0/24 and ff02::/16 (any flags), as Go's IsLinkLocalMulticast.
  bool is_link_local_multicast() const;

  // Canonical text as Go's net.IP.String() prints it: dotted quad for V4,
  // RFC 5952 (lower case, longest zero run compressed) for V6.
  std::string to_string() const;

  // Network byte order. For V4 only the first 4 bytes are meaningful.
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }
  std::size_t byte_length() const { return is_v4() ? 4 : 16; }

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::V4;
  std::array<std::uint8_t, 16> bytes_{};
};

// An address prefix. The stored address is the network address (host bits
// cleared), so "203.0.113.7/25" and "203.0.113.0/25" compare equal.
class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress network, int prefix_length);

  static std::optional<Cidr> parse(std::string_view text);
  // Leading zeros allowed in IPv4 octets, as for IpAddress::parse_sloppy.
  static std::optional<Cidr> parse_sloppy(std::string_view text);

  const IpAddress& network() const { return network_; }
  int prefix_length() const { return prefix_length_; }
  IpFamily family() const { return network_.family(); }
  bool contains(const IpAddress& address) const;

  // "<network>/<prefix>", as Go's net.IPNet.String() prints it.
  std::string to_string() const;

  auto operator<=>(const Cidr&) const = default;
  bool operator==(const Cidr&) const = default;

 private:
  IpAddress network_;
  int prefix_length_ = 0;
};

// "IP:port", or "[IPv6]:port", as Go's net.JoinHostPort writes it.
std::string join_host_port(const IpAddress& address, int port);

}  // namespace kubenat
