#pragma once

// The Kubernetes API server's syntactic rules for the names and values
// kubenat reads (k8s.io/apimachinery/pkg/util/validation and the core API's
// validation), so that the decoder refuses what the API server would never
// have stored. Pure predicates; the decoder words the diagnostics.

#include <string_view>

#include "rules/ip.h"

namespace kubenat {

// RFC 1123 label (IsDNS1123Label): 1-63 characters, a-z, 0-9 and '-',
// alphanumeric at both ends. Namespaces and port names.
[[nodiscard]] bool is_dns_label(std::string_view text);

// RFC 1035 label (IsDNS1035Label): an RFC 1123 label that starts with a
// letter. Service names.
[[nodiscard]] bool is_dns_1035_label(std::string_view text);

// RFC 1123 subdomain (IsDNS1123Subdomain): at most 253 characters, RFC 1123
// labels joined by '.'. Object and node names.
[[nodiscard]] bool is_dns_subdomain(std::string_view text);

// A label value (IsValidLabelValue): empty, or at most 63 characters,
// alphanumeric at both ends with '-', '_' and '.' inside.
[[nodiscard]] bool is_label_value(std::string_view text);

// An IANA service name (IsValidPortName, RFC 6335): 1-15 characters, a-z,
// 0-9 and '-', at least one letter, no '-' at either end nor two in a row.
// A targetPort given by name.
[[nodiscard]] bool is_iana_service_name(std::string_view text);

// Why the API server refuses `address` as an endpoint or external IP
// (ValidateEndpointIP, ValidateNonSpecialIP): "an unspecified address",
// "a loopback address", "a link-local address" or "a link-local multicast
// address"; empty when it is acceptable.
[[nodiscard]] std::string_view special_address_kind(const IpAddress& address);

}  // namespace kubenat
