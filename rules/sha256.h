#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace kubenat {

// SHA-256 (FIPS 180-4) of `data`. Self-contained because rules/ may not link
// a crypto library; it hashes only short chain-name inputs, so it favours
// clarity over speed.
std::array<std::uint8_t, 32> sha256(std::string_view data);

}  // namespace kubenat
