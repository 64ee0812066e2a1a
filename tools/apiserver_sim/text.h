#pragma once

// Small text helpers for the simulator: documents, URLs, times, ids.

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

// A JSON text, or YAML (one or more "---" separated documents; several are
// returned as a kind List). The error is one line.
[[nodiscard]] std::expected<nlohmann::json, std::string> parse_document(std::string_view text);

// Percent-decoding, '+' as space (query strings).
std::string url_decode(std::string_view text);
// "a=1&b=x%20y" -> {a: 1, b: "x y"}; a repeated key keeps the last value.
std::map<std::string, std::string> parse_query(std::string_view query);

std::string base64_encode(std::string_view bytes);
// Standard or URL-safe alphabet, padding optional; nullopt-like empty error.
[[nodiscard]] std::expected<std::string, std::string> base64_decode(std::string_view text);

// RFC 3339 in UTC with seconds, as metadata.creationTimestamp: "2024-05-02T09:14:07Z".
std::string rfc3339(std::chrono::system_clock::time_point time);
// Parses what rfc3339() prints (fractions and offsets are not accepted).
[[nodiscard]] std::expected<std::chrono::system_clock::time_point, std::string> parse_rfc3339(std::string_view text);
// kubectl's AGE column: "45s", "3m12s", "5h", "12d", "2y".
std::string human_duration(std::chrono::seconds age);

// A random version 4 UUID for metadata.uid.
std::string random_uuid();

}  // namespace kubenat::apiserver_sim
