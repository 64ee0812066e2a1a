#include "rules/nftables/address_refs.h"

#include <algorithm>
#include <span>

namespace kubenat {
namespace {

// Small enough that an insertion moves a few kilobytes, large enough that
// the chunks' own overhead (a 24-byte vector and a heap block each) is a
// fraction of a byte a pair.
constexpr std::size_t kChunkSize = 256;

std::uint32_t v4_key(const IpAddress& address) {
  const auto& b = address.bytes();
  return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | std::uint32_t{b[3]};
}

std::array<std::uint8_t, 16> v6_key(const IpAddress& address) { return address.bytes(); }

IpAddress address_of(std::uint32_t key) {
  return IpAddress::v4(static_cast<std::uint8_t>(key >> 24), static_cast<std::uint8_t>(key >> 16),
                       static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key));
}

IpAddress address_of(const std::array<std::uint8_t, 16>& key) {
  return *IpAddress::from_bytes(std::span<const std::uint8_t>(key));
}

}  // namespace

template <typename Key>
std::pair<std::size_t, std::size_t> NftAddressRefs::Counts<Key>::locate(const Key& key) const {
  // The first chunk whose last key is not below `key`.
  const auto chunk = std::partition_point(chunks.begin(), chunks.end(),
                                          [&](const std::vector<Pair>& c) { return c.back().key < key; });
  if (chunk == chunks.end()) return {chunks.size(), 0};
  const auto at = std::partition_point(chunk->begin(), chunk->end(), [&](const Pair& pair) { return pair.key < key; });
  return {static_cast<std::size_t>(chunk - chunks.begin()), static_cast<std::size_t>(at - chunk->begin())};
}

template <typename Key>
std::uint32_t NftAddressRefs::Counts<Key>::get(const Key& key) const {
  const auto [chunk, at] = locate(key);
  if (chunk == chunks.size() || chunks[chunk][at].key != key) return 0;
  return chunks[chunk][at].refs;
}

template <typename Key>
void NftAddressRefs::Counts<Key>::set(const Key& key, std::uint32_t refs) {
  auto [chunk, at] = locate(key);
  const bool present = chunk < chunks.size() && chunks[chunk][at].key == key;
  if (present) {
    if (refs > 0) {
      chunks[chunk][at].refs = refs;
      return;
    }
    std::vector<Pair>& pairs = chunks[chunk];
    pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(at));
    if (pairs.empty()) chunks.erase(chunks.begin() + static_cast<std::ptrdiff_t>(chunk));
    --size;
    return;
  }
  if (refs == 0) return;
  ++size;
  if (chunk == chunks.size()) {
    // Past every key: appended to the last chunk, or a new one when it is
    // full, so that keys added in order fill their chunks.
    if (chunks.empty() || chunks.back().size() == kChunkSize) chunks.emplace_back().reserve(kChunkSize);
    chunks.back().push_back(Pair{key, refs});
    return;
  }
  std::vector<Pair>& pairs = chunks[chunk];
  if (pairs.size() == kChunkSize) {
    // Full: its upper half moves to a new chunk after it.
    std::vector<Pair> upper;
    upper.reserve(kChunkSize);
    upper.assign(pairs.begin() + kChunkSize / 2, pairs.end());
    pairs.erase(pairs.begin() + kChunkSize / 2, pairs.end());
    chunks.insert(chunks.begin() + static_cast<std::ptrdiff_t>(chunk) + 1, std::move(upper));
    if (at > kChunkSize / 2) {
      ++chunk;
      at -= kChunkSize / 2;
    }
  }
  std::vector<Pair>& into = chunks[chunk];
  into.insert(into.begin() + static_cast<std::ptrdiff_t>(at), Pair{key, refs});
}

NftAddressRefs::value_type NftAddressRefs::const_iterator::operator*() const {
  if (v6_) {
    const auto& pair = refs_->v6_.chunks[chunk_][at_];
    return {address_of(pair.key), pair.refs};
  }
  const auto& pair = refs_->v4_.chunks[chunk_][at_];
  return {address_of(pair.key), pair.refs};
}

void NftAddressRefs::const_iterator::skip_to_v6_when_past_v4() {
  if (!v6_ && chunk_ == refs_->v4_.chunks.size()) {
    v6_ = true;
    chunk_ = 0;
    at_ = 0;
  }
}

NftAddressRefs::const_iterator& NftAddressRefs::const_iterator::operator++() {
  const std::size_t chunk_size = v6_ ? refs_->v6_.chunks[chunk_].size() : refs_->v4_.chunks[chunk_].size();
  if (++at_ == chunk_size) {
    ++chunk_;
    at_ = 0;
    skip_to_v6_when_past_v4();
  }
  return *this;
}

NftAddressRefs::const_iterator NftAddressRefs::begin() const {
  const_iterator first(this, false, 0, 0);
  first.skip_to_v6_when_past_v4();
  return first;
}

std::uint32_t NftAddressRefs::refs(const IpAddress& address) const {
  return address.is_v4() ? v4_.get(v4_key(address)) : v6_.get(v6_key(address));
}

int NftAddressRefs::add(const IpAddress& address, int delta) {
  const std::uint32_t before = refs(address);
  const std::uint32_t after = before + static_cast<std::uint32_t>(delta);
  set(address, after);
  if (before == 0 && after > 0) return 1;
  return before > 0 && after == 0 ? -1 : 0;
}

void NftAddressRefs::set(const IpAddress& address, std::uint32_t refs) {
  if (address.is_v4()) {
    v4_.set(v4_key(address), refs);
  } else {
    v6_.set(v6_key(address), refs);
  }
}

bool NftAddressRefs::operator==(const NftAddressRefs& other) const {
  return size() == other.size() && std::equal(begin(), end(), other.begin());
}

}  // namespace kubenat
