#include "rules/kubernetes_validation.h"

#include <algorithm>

namespace kubenat {
namespace {

constexpr std::size_t kMaxLabelLength = 63;
constexpr std::size_t kMaxSubdomainLength = 253;
constexpr std::size_t kMaxServiceNameLength = 15;

bool is_lower_alpha(char c) { return c >= 'a' && c <= 'z'; }
bool is_lower_alnum(char c) { return is_lower_alpha(c) || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// a-z, 0-9 and '-', alphanumeric at both ends, of any length: the parts of a
// subdomain, which Kubernetes does not hold to 63 characters each.
bool is_label_syntax(std::string_view text) {
  return !text.empty() && is_lower_alnum(text.front()) && is_lower_alnum(text.back()) &&
         std::ranges::all_of(text, [](char c) { return is_lower_alnum(c) || c == '-'; });
}

}  // namespace

bool is_dns_label(std::string_view text) { return text.size() <= kMaxLabelLength && is_label_syntax(text); }

bool is_dns_1035_label(std::string_view text) { return is_dns_label(text) && is_lower_alpha(text.front()); }

bool is_dns_subdomain(std::string_view text) {
  if (text.empty() || text.size() > kMaxSubdomainLength) {
    return false;
  }
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view part =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!is_label_syntax(part)) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

bool is_label_value(std::string_view text) {
  if (text.empty()) {
    return true;
  }
  if (text.size() > kMaxLabelLength || !is_alnum(text.front()) || !is_alnum(text.back())) {
    return false;
  }
  return std::ranges::all_of(text, [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_iana_service_name(std::string_view text) {
  return !text.empty() && text.size() <= kMaxServiceNameLength &&
         std::ranges::all_of(text, [](char c) { return is_lower_alnum(c) || c == '-'; }) &&
         std::ranges::any_of(text, is_lower_alpha) && text.front() != '-' && text.back() != '-' && !text.contains("--");
}

std::string_view special_address_kind(const IpAddress& address) {
  if (address.is_unspecified()) return "an unspecified address";
  if (address.is_loopback()) return "a loopback address";
  if (address.is_link_local_unicast()) return "a link-local address";
  if (address.is_link_local_multicast()) return "a link-local multicast address";
  return {};
}

}  // namespace kubenat
