#include "rules/iptables/chain_names.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>


namespace kubenat {

namespace {

constexpr std::string_view kBase32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr std::size_t kHashLength = 16;

std::string hash_input(const ServicePortName& name) {
  std::string input = name.to_string();
  input += protocol_lower(name.protocol);
  return input;
}

}  // namespace

// Writes the 16-character hash of `input` to `out`.
void ChainNamer::chain_hash_into(std::string_view input, char* out) {
  const auto digest = sha256_.digest(input);
  // 16 base32 characters are exactly 80 bits, the first 10 digest bytes, so
  // the encoding's '=' padding never reaches the name.
  std::uint64_t buffer = 0;
  int buffered_bits = 0;
  std::size_t written = 0;
  for (std::size_t i = 0; written < kHashLength; ++i) {
    buffer = (buffer << 8) | digest[i];
    buffered_bits += 8;
    while (buffered_bits >= 5 && written < kHashLength) {
      buffered_bits -= 5;
      out[written++] = kBase32Alphabet[(buffer >> buffered_bits) & 0x1f];
    }
  }
}

std::string ChainNamer::chain_hash(std::string_view input) {
  std::string out(kHashLength, '\0');
  chain_hash_into(input, out.data());
  return out;
}

std::string ChainNamer::service_port_hash(const ServicePortName& name) { return chain_hash(hash_input(name)); }

std::string chain_hash(std::string_view input) { return ChainNamer().chain_hash(input); }

std::string service_port_hash(const ServicePortName& name) { return ChainNamer().service_port_hash(name); }

std::string svc_chain(const ServicePortName& name) { return "KUBE-SVC-" + service_port_hash(name); }

std::string svl_chain(const ServicePortName& name) { return "KUBE-SVL-" + service_port_hash(name); }

std::string ext_chain(const ServicePortName& name) { return "KUBE-EXT-" + service_port_hash(name); }

std::string fw_chain(const ServicePortName& name) { return "KUBE-FW-" + service_port_hash(name); }

std::string sep_chain(const ServicePortName& name, std::string_view endpoint) {
  return ChainNamer().sep_chain_from_prefix(hash_input(name), endpoint).str();
}

std::string chain_hash_prefix(const ServicePortName& name) { return hash_input(name); }

ChainName sep_chain_from_prefix(std::string_view prefix, std::string_view endpoint) {
  return ChainNamer().sep_chain_from_prefix(prefix, endpoint);
}

ChainName ChainNamer::sep_chain_from_prefix(std::string_view prefix, std::string_view endpoint) {
  // Names are built by the hundred thousand: hash from a stack buffer when
  // the input fits, rather than allocate for it.
  std::array<char, 512> buffer;
  std::string heap;
  std::string_view input;
  if (prefix.size() + endpoint.size() <= buffer.size()) {
    std::copy(prefix.begin(), prefix.end(), buffer.begin());
    std::copy(endpoint.begin(), endpoint.end(), buffer.begin() + static_cast<std::ptrdiff_t>(prefix.size()));
    input = std::string_view(buffer.data(), prefix.size() + endpoint.size());
  } else {
    heap.reserve(prefix.size() + endpoint.size());
    heap.append(prefix).append(endpoint);
    input = heap;
  }
  constexpr std::string_view kPrefix = "KUBE-SEP-";
  std::array<char, kPrefix.size() + kHashLength> name;
  std::copy(kPrefix.begin(), kPrefix.end(), name.begin());
  chain_hash_into(input, name.data() + kPrefix.size());
  return ChainName(std::string_view(name.data(), name.size()));
}

}  // namespace kubenat
