#include "rules/nftables/set_name.h"

#include <array>
#include <charconv>
#include <limits>

namespace kubenat {
namespace {

// The names the compiler gives the sets and maps that hold elements
// (rules/nftables/compiler.cpp, plan.h); the numbered ones are prefixes.
struct KnownName {
  std::string_view text;
  bool numbered;
};
constexpr std::array<KnownName, 25> kKnown = {{
    {"internal-cluster-destinations", false},
    {"internal-local-destinations", false},
    {"external-cluster-destinations", false},
    {"external-local-destinations", false},
    {"nodeport-cluster-destinations", false},
    {"nodeport-local-destinations", false},
    {"cluster-endpoints", false},
    {"local-endpoints", false},
    {"nodeport-cluster-endpoints", false},
    {"nodeport-local-endpoints", false},
    {"no-endpoint-services", false},
    {"no-endpoint-nodeports", false},
    {"no-local-endpoint-services", false},
    {"no-local-endpoint-nodeports", false},
    {"firewall-ips", false},
    {"firewall-allow", false},
    {"nodeport-ips", false},
    {"hairpin", false},
    {"affinity", false},
    {"cluster-count-", true},
    {"local-count-", true},
    {"nodeport-cluster-count-", true},
    {"nodeport-local-count-", true},
    {"affinity-destinations-", true},
    {"affinity-nodeports-", true},
}};

constexpr std::uint64_t kKnownBit = 1;
constexpr std::uint64_t kNumberedBit = 1u << 9;

// The characters of a name, with room for a known prefix and a number.
class Spelling {
 public:
  explicit Spelling(std::uint64_t bits) {
    if (bits == 0) return;
    if ((bits & kKnownBit) == 0) {
      view_ = *reinterpret_cast<const std::string*>(bits);
      return;
    }
    const KnownName& known = kKnown[(bits >> 1) & 0xff];
    if ((bits & kNumberedBit) == 0) {
      view_ = known.text;
      return;
    }
    known.text.copy(buffer_.data(), known.text.size());
    char* end = std::to_chars(buffer_.data() + known.text.size(), buffer_.data() + buffer_.size(),
                              static_cast<std::uint32_t>(bits >> 32))
                    .ptr;
    view_ = std::string_view(buffer_.data(), static_cast<std::size_t>(end - buffer_.data()));
  }
  Spelling(const Spelling&) = delete;
  Spelling& operator=(const Spelling&) = delete;
  std::string_view view() const { return view_; }

 private:
  std::array<char, 48> buffer_{};
  std::string_view view_;
};

// The known name `name` spells, as bits, or 0.
std::uint64_t encode_known(std::string_view name) {
  for (std::size_t i = 0; i < kKnown.size(); ++i) {
    const KnownName& known = kKnown[i];
    if (!known.numbered) {
      if (name == known.text) return kKnownBit | (i << 1);
      continue;
    }
    if (!name.starts_with(known.text)) continue;
    const std::string_view digits = name.substr(known.text.size());
    // Only the number's own spelling (no sign, no leading zero) reads back the same.
    if (digits.empty() || (digits.size() > 1 && digits.front() == '0')) continue;
    std::uint32_t number = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (error != std::errc() || end != digits.data() + digits.size()) continue;
    return kKnownBit | (i << 1) | kNumberedBit | (static_cast<std::uint64_t>(number) << 32);
  }
  return 0;
}

std::uint64_t copy_of(std::uint64_t bits) {
  if (bits == 0 || (bits & kKnownBit) != 0) return bits;
  return reinterpret_cast<std::uint64_t>(new std::string(*reinterpret_cast<const std::string*>(bits)));
}

void release(std::uint64_t bits) {
  if (bits != 0 && (bits & kKnownBit) == 0) delete reinterpret_cast<std::string*>(bits);
}

}  // namespace

static_assert(alignof(std::string) > 1, "an owned name's pointer keeps the low bit clear");

NftSetName::NftSetName(std::string_view name) {
  if (name.empty()) return;
  bits_ = encode_known(name);
  if (bits_ == 0) bits_ = reinterpret_cast<std::uint64_t>(new std::string(name));
}

NftSetName::NftSetName(const NftSetName& other) : bits_(copy_of(other.bits_)) {}

NftSetName& NftSetName::operator=(const NftSetName& other) {
  if (this != &other) {
    const std::uint64_t copy = copy_of(other.bits_);
    release(bits_);
    bits_ = copy;
  }
  return *this;
}

NftSetName& NftSetName::operator=(NftSetName&& other) noexcept {
  if (this != &other) {
    release(bits_);
    bits_ = other.bits_;
    other.bits_ = 0;
  }
  return *this;
}

NftSetName::~NftSetName() { release(bits_); }

std::string NftSetName::str() const { return std::string(Spelling(bits_).view()); }

bool operator==(const NftSetName& a, const NftSetName& b) {
  // Known names have one encoding each, so equal bits are equal names and a
  // known name never equals an owned one.
  if (a.bits_ == b.bits_) return true;
  if ((a.bits_ & kKnownBit) != 0 || (b.bits_ & kKnownBit) != 0 || a.bits_ == 0 || b.bits_ == 0) return false;
  return Spelling(a.bits_).view() == Spelling(b.bits_).view();
}

std::strong_ordering operator<=>(const NftSetName& a, const NftSetName& b) {
  if (a.bits_ == b.bits_) return std::strong_ordering::equal;
  return Spelling(a.bits_).view() <=> Spelling(b.bits_).view();
}

}  // namespace kubenat
