#include "rules/nftables/address_refs.h"

#include <algorithm>

namespace kubenat {
namespace {

// Small enough that an insertion moves a few kilobytes, large enough that
// the chunks' own overhead (a 24-byte vector and a heap block each) is a
// fraction of a byte a pair.
constexpr std::size_t kChunkSize = 256;

bool address_below(const NftAddressRefs::value_type& pair, const IpAddress& address) { return pair.first < address; }

}  // namespace

NftAddressRefs::const_iterator& NftAddressRefs::const_iterator::operator++() {
  if (++at_ == (*chunks_)[chunk_].size()) {
    ++chunk_;
    at_ = 0;
  }
  return *this;
}

std::pair<std::size_t, std::size_t> NftAddressRefs::locate(const IpAddress& address) const {
  // The first chunk whose last address is not below `address`.
  const auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                          [&](const std::vector<value_type>& c) { return c.back().first < address; });
  if (chunk == chunks_.end()) return {chunks_.size(), 0};
  const auto at = std::lower_bound(chunk->begin(), chunk->end(), address, address_below);
  return {static_cast<std::size_t>(chunk - chunks_.begin()), static_cast<std::size_t>(at - chunk->begin())};
}

std::uint32_t NftAddressRefs::refs(const IpAddress& address) const {
  const auto [chunk, at] = locate(address);
  if (chunk == chunks_.size() || chunks_[chunk][at].first != address) return 0;
  return chunks_[chunk][at].second;
}

int NftAddressRefs::add(const IpAddress& address, int delta) {
  const std::uint32_t before = refs(address);
  const std::uint32_t after = before + static_cast<std::uint32_t>(delta);
  set(address, after);
  if (before == 0 && after > 0) return 1;
  return before > 0 && after == 0 ? -1 : 0;
}

void NftAddressRefs::set(const IpAddress& address, std::uint32_t refs) {
  auto [chunk, at] = locate(address);
  const bool present = chunk < chunks_.size() && chunks_[chunk][at].first == address;
  if (present) {
    if (refs > 0) {
      chunks_[chunk][at].second = refs;
      return;
    }
    std::vector<value_type>& pairs = chunks_[chunk];
    pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(at));
    if (pairs.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(chunk));
    --size_;
    return;
  }
  if (refs == 0) return;
  ++size_;
  if (chunk == chunks_.size()) {
    // Past every address: appended to the last chunk, or a new one when it
    // is full, so that addresses added in order fill their chunks.
    if (chunks_.empty() || chunks_.back().size() == kChunkSize) {
      chunks_.emplace_back().reserve(kChunkSize);
    }
    chunks_.back().emplace_back(address, refs);
    return;
  }
  std::vector<value_type>& pairs = chunks_[chunk];
  if (pairs.size() == kChunkSize) {
    // Full: its upper half moves to a new chunk after it.
    std::vector<value_type> upper;
    upper.reserve(kChunkSize);
    upper.assign(pairs.begin() + kChunkSize / 2, pairs.end());
    pairs.erase(pairs.begin() + kChunkSize / 2, pairs.end());
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(chunk) + 1, std::move(upper));
    if (at > kChunkSize / 2) {
      ++chunk;
      at -= kChunkSize / 2;
    }
  }
  std::vector<value_type>& into = chunks_[chunk];
  into.insert(into.begin() + static_cast<std::ptrdiff_t>(at), value_type{address, refs});
}

bool NftAddressRefs::operator==(const NftAddressRefs& other) const {
  return size_ == other.size_ && std::equal(begin(), end(), other.begin());
}

}  // namespace kubenat
