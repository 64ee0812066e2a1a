#include "rules/ip.h"

#include <algorithm>
#include <cstddef>

namespace kubenat {

namespace {

// Strict follows today's Go net.ParseIP (netip): no leading zeros in IPv4
// octets, at most four hex digits per IPv6 group. Sloppy follows the Go 1.16
// parser that k8s.io/utils/net forked for ParseIPSloppy, because Kubernetes
// objects created before Go 1.17 may hold "010.0.0.1" and kube-proxy still
// reads it as 10.0.0.1 (decimal, not octal).
enum class Mode : std::uint8_t { Strict, Sloppy };

// ::ffff:0:0/96, the IPv4-mapped block.
constexpr std::array<std::uint8_t, 12> kV4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct Number {
  unsigned value = 0;
  std::size_t length = 0;
};

// Reads the run of decimal digits that starts `text`. The value saturates at
// limit + 1 so that a long run (Go's parsers accept any number of leading
// zeros) cannot overflow.
Number read_decimal(std::string_view text, unsigned limit) {
  Number n;
  while (n.length < text.size() && is_digit(text[n.length])) {
    n.value = std::min(n.value * 10 + static_cast<unsigned>(text[n.length] - '0'), limit + 1);
    ++n.length;
  }
  return n;
}

std::optional<std::array<std::uint8_t, 4>> parse_v4(std::string_view text, Mode mode) {
  std::array<std::uint8_t, 4> out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    const Number n = read_decimal(text, 255);
    if (n.length == 0 || n.value > 255) return std::nullopt;
    if (mode == Mode::Strict && (n.length > 3 || (n.length > 1 && text.front() == '0'))) {
      return std::nullopt;
    }
    out[i] = static_cast<std::uint8_t>(n.value);
    text.remove_prefix(n.length);
  }
  if (!text.empty()) return std::nullopt;
  return out;
}

// RFC 4291 section 2.2 text, without a zone. Returns the raw 16 bytes, so an
// IPv4-mapped address is still in its mapped form here.
std::optional<std::array<std::uint8_t, 16>> parse_v6(std::string_view text, Mode mode) {
  std::array<std::uint8_t, 16> out{};
  std::size_t filled = 0;
  std::optional<std::size_t> ellipsis;

  if (text.starts_with("::")) {
    ellipsis = 0;
    text.remove_prefix(2);
    if (text.empty()) return out;
  }

  while (filled < out.size()) {
    std::size_t digits = 0;
    unsigned group = 0;
    while (digits < text.size() && hex_value(text[digits]) >= 0) {
      group = std::min(group * 16 + static_cast<unsigned>(hex_value(text[digits])), 0x10000u);
      ++digits;
    }
    if (digits == 0 || group > 0xffff) return std::nullopt;
    if (mode == Mode::Strict && digits > 4) return std::nullopt;

    if (digits < text.size() && text[digits] == '.') {
      // An embedded IPv4 tail takes the last 32 bits: it must end the text,
      // and without "::" it must come after exactly six groups.
      if (!ellipsis && filled != out.size() - 4) return std::nullopt;
      if (filled + 4 > out.size()) return std::nullopt;
      const auto v4 = parse_v4(text, mode);
      if (!v4) return std::nullopt;
      std::copy(v4->begin(), v4->end(), out.begin() + static_cast<std::ptrdiff_t>(filled));
      filled += 4;
      text = {};
      break;
    }

    out[filled] = static_cast<std::uint8_t>(group >> 8);
    out[filled + 1] = static_cast<std::uint8_t>(group);
    filled += 2;
    text.remove_prefix(digits);
    if (text.empty()) break;

    if (text.front() != ':' || text.size() == 1) return std::nullopt;
    text.remove_prefix(1);
    if (text.front() == ':') {
      if (ellipsis) return std::nullopt;
      ellipsis = filled;
      text.remove_prefix(1);
      if (text.empty()) break;
    }
  }
  if (!text.empty()) return std::nullopt;

  if (filled < out.size()) {
    if (!ellipsis) return std::nullopt;
    // Slide the groups after "::" to the end and zero the gap.
    const std::size_t gap = out.size() - filled;
    std::copy_backward(out.begin() + static_cast<std::ptrdiff_t>(*ellipsis),
                       out.begin() + static_cast<std::ptrdiff_t>(filled), out.end());
    std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(*ellipsis), gap, 0);
  } else if (ellipsis) {
    // "::" must stand for at least one group.
    return std::nullopt;
  }
  return out;
}

// The mask for byte `index` of an address under a prefix of `prefix_length`
// bits.
std::uint8_t mask_byte(int prefix_length, std::size_t index) {
  const int kept = std::clamp(prefix_length - static_cast<int>(index) * 8, 0, 8);
  return static_cast<std::uint8_t>(0xff00u >> kept);
}

bool is_v4_mapped(const std::array<std::uint8_t, 16>& bytes) {
  return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

// The address as text, before any v4-mapped folding: IPv4 text is returned as
// 4 bytes, IPv6 text as 16.
struct RawAddress {
  std::array<std::uint8_t, 16> bytes{};
  bool is_v4_text = false;
};

std::optional<RawAddress> parse_raw(std::string_view text, Mode mode) {
  // Like Go, the first separator decides the family.
  const std::size_t sep = text.find_first_of(".:");
  if (sep == std::string_view::npos) return std::nullopt;
  RawAddress raw;
  if (text[sep] == '.') {
    const auto v4 = parse_v4(text, mode);
    if (!v4) return std::nullopt;
    std::copy(v4->begin(), v4->end(), raw.bytes.begin());
    raw.is_v4_text = true;
    return raw;
  }
  const auto v6 = parse_v6(text, mode);
  if (!v6) return std::nullopt;
  raw.bytes = *v6;
  return raw;
}

std::optional<IpAddress> parse_address(std::string_view text, Mode mode) {
  const auto raw = parse_raw(text, mode);
  if (!raw) return std::nullopt;
  if (raw->is_v4_text) return IpAddress::from_bytes(std::span(raw->bytes).first<4>());
  return IpAddress::from_bytes(raw->bytes);
}

std::optional<Cidr> parse_cidr(std::string_view text, Mode mode) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const auto raw = parse_raw(text.substr(0, slash), mode);
  if (!raw) return std::nullopt;

  // Go's dtoi: plain decimal digits (leading zeros allowed), no sign.
  const std::string_view length_text = text.substr(slash + 1);
  const Number length = read_decimal(length_text, 128);
  const unsigned max_length = raw->is_v4_text ? 32 : 128;
  if (length.length == 0 || length.length != length_text.size() || length.value > max_length) {
    return std::nullopt;
  }
  const int prefix = static_cast<int>(length.value);

  if (raw->is_v4_text) {
    const auto& b = raw->bytes;
    return Cidr(IpAddress::v4(b[0], b[1], b[2], b[3]), prefix);
  }
  // An IPv4-mapped prefix of /96 or longer is an IPv4 prefix, as Go's
  // IPNet.String() shows it. Shorter prefixes clear part of the ::ffff:
  // marker, so the network is a plain IPv6 one.
  if (is_v4_mapped(raw->bytes) && prefix >= 96) {
    const auto& b = raw->bytes;
    return Cidr(IpAddress::v4(b[12], b[13], b[14], b[15]), prefix - 96);
  }
  std::array<std::uint8_t, 16> masked = raw->bytes;
  for (std::size_t i = 0; i < masked.size(); ++i) masked[i] &= mask_byte(prefix, i);
  return Cidr(*IpAddress::from_bytes(masked), prefix);
}

}  // namespace

std::string_view ip_family_name(IpFamily family) {
  return family == IpFamily::V4 ? "IPv4" : "IPv6";
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  return parse_address(text, Mode::Strict);
}

std::optional<IpAddress> IpAddress::parse_sloppy(std::string_view text) {
  return parse_address(text, Mode::Sloppy);
}

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress address;
  address.family_ = IpFamily::V4;
  address.bytes_ = {a, b, c, d};
  return address;
}

std::optional<IpAddress> IpAddress::from_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() == 4) return v4(bytes[0], bytes[1], bytes[2], bytes[3]);
  if (bytes.size() != 16) return std::nullopt;
  IpAddress address;
  std::copy(bytes.begin(), bytes.end(), address.bytes_.begin());
  if (is_v4_mapped(address.bytes_)) {
    return v4(bytes[12], bytes[13], bytes[14], bytes[15]);
  }
  address.family_ = IpFamily::V6;
  return address;
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[0] == 127;
  return std::all_of(bytes_.begin(), bytes_.end() - 1, [](std::uint8_t b) { return b == 0; }) &&
         bytes_[15] == 1;
}

bool IpAddress::is_unspecified() const {
  return std::all_of(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(byte_length()),
                     [](std::uint8_t b) { return b == 0; });
}

bool IpAddress::is_link_local_unicast() const {
  if (is_v4()) return bytes_[0] == 169 && bytes_[1] == 254;
  return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

bool IpAddress::is_link_local_multicast() const {
  if (is_v4()) return bytes_[0] == 224 && bytes_[1] == 0 && bytes_[2] == 0;
  return bytes_[0] == 0xff && (bytes_[1] & 0x0f) == 0x02;
}

std::string IpAddress::to_string() const {
  std::string out;
  if (is_v4()) {
    // Formatted by hand: addresses are printed several times per endpoint
    // in a full compile, and this stays within the small-string buffer.
    char buf[16];
    std::size_t n = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      if (i > 0) buf[n++] = '.';
      const unsigned v = bytes_[i];
      if (v >= 100) buf[n++] = static_cast<char>('0' + v / 100);
      if (v >= 10) buf[n++] = static_cast<char>('0' + v / 10 % 10);
      buf[n++] = static_cast<char>('0' + v % 10);
    }
    return std::string(buf, n);
  }

  std::array<unsigned, 8> groups{};
  for (std::size_t i = 0; i < groups.size(); ++i) {
    groups[i] = (static_cast<unsigned>(bytes_[2 * i]) << 8) | bytes_[2 * i + 1];
  }
  // RFC 5952 4.2: compress the longest run of two or more zero groups, the
  // first one on a tie.
  std::size_t best_start = groups.size();
  std::size_t best_length = 1;
  for (std::size_t i = 0; i < groups.size();) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < groups.size() && groups[j] == 0) ++j;
    if (j - i > best_length) {
      best_start = i;
      best_length = j - i;
    }
    i = j;
  }

  constexpr std::string_view kHex = "0123456789abcdef";
  out.reserve(39);
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (i == best_start) {
      out += "::";
      i += best_length - 1;
      continue;
    }
    if (i > 0 && i != best_start + best_length) out += ':';
    bool leading = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (groups[i] >> shift) & 0xf;
      if (leading && nibble == 0 && shift > 0) continue;
      leading = false;
      out += kHex[nibble];
    }
  }
  return out;
}

Cidr::Cidr(IpAddress network, int prefix_length) : network_(network) {
  const int bits = static_cast<int>(network.byte_length()) * 8;
  // Out-of-range lengths are clamped rather than rejected: this constructor
  // has no way to fail, and parse() never produces them.
  prefix_length_ = std::clamp(prefix_length, 0, bits);
  std::array<std::uint8_t, 16> bytes = network.bytes();
  for (std::size_t i = 0; i < network.byte_length(); ++i) bytes[i] &= mask_byte(prefix_length_, i);
  network_ = *IpAddress::from_bytes(std::span(bytes).first(network.byte_length()));
}

std::optional<Cidr> Cidr::parse(std::string_view text) { return parse_cidr(text, Mode::Strict); }

std::optional<Cidr> Cidr::parse_sloppy(std::string_view text) {
  return parse_cidr(text, Mode::Sloppy);
}

bool Cidr::contains(const IpAddress& address) const {
  if (address.family() != family()) return false;
  const auto& a = address.bytes();
  const auto& n = network_.bytes();
  for (std::size_t i = 0; i < address.byte_length(); ++i) {
    if ((a[i] & mask_byte(prefix_length_, i)) != n[i]) return false;
  }
  return true;
}

std::string Cidr::to_string() const {
  return network_.to_string() + "/" + std::to_string(prefix_length_);
}

std::string join_host_port(const IpAddress& address, int port) {
  const std::string host = address.to_string();
  const std::string port_text = std::to_string(port);
  std::string out;
  out.reserve(host.size() + port_text.size() + 3);
  if (!address.is_v4()) out += '[';
  out += host;
  if (!address.is_v4()) out += ']';
  out += ':';
  out += port_text;
  return out;
}

}  // namespace kubenat
