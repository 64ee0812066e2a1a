#pragma once

// Times as Kubernetes writes them: RFC 3339, as Go's time.Time marshals to
// JSON and its RFC3339Nano layout reads.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kubenat {

// In UTC with nanoseconds, trailing zeros trimmed: "2024-05-01T10:00:00.5Z".
std::string format_rfc3339_nano(std::chrono::system_clock::time_point time);

// "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456789Z",
// "2024-05-01T12:00:00+02:00" (a fraction of up to 9 digits, "Z" or an
// offset); nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

}  // namespace kubenat
