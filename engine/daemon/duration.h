#pragma once

// Durations as Go writes them ("30s", "1m0s", "500ms", "1h30m", "1.5s"):
// kube-proxy's flags and KubeProxyConfiguration fields use Go's
// time.ParseDuration and time.Duration.String.

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace kubenat {

// Parses Go's duration syntax: an optional sign, then one or more decimal
// numbers (with an optional fraction) each followed by a unit: ns, us (or µs,
// μs), ms, s, m, h. "0" alone is allowed. Returns a one-line error that quotes
// the text (`invalid duration "abc"`, `missing unit in duration "10"`,
// `unknown unit "d" in duration "1d"`), also when the value overflows
// 64-bit nanoseconds (about 292 years).
[[nodiscard]] std::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text);

// Go's time.Duration.String(): "0s", "500ms", "1.5µs", "30s", "1m0s", "1h2m3.5s".
// parse_duration(format_duration(d)) == d for every d.
std::string format_duration(std::chrono::nanoseconds duration);

}  // namespace kubenat
