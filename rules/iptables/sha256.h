#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kubenat {

// SHA-256 (FIPS 180-4) of `data`. Self-contained because rules/ links no
// crypto library. A full compile hashes one chain name per endpoint, so on
// x86-64 CPUs with the SHA extensions it uses them.
std::array<std::uint8_t, 32> sha256(std::string_view data);

// The portable implementation alone, which sha256() falls back to; exposed
// so that tests can compare the two.
std::array<std::uint8_t, 32> sha256_portable(std::string_view data);

}  // namespace kubenat
