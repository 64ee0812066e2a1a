#pragma once

// JSON or YAML text to JSON documents: what `kubectl -o json|yaml` prints and
// what manifests hold. YAML follows the 1.2 core schema as Kubernetes reads
// it: only unquoted scalars become booleans and integers, so a quoted "80"
// stays a string.

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubenat {

// The documents of the text: one for JSON, one per non-empty YAML document.
// The error is one short line, "not JSON or YAML: <the parser's message>".
// Alias expansion and nesting are bounded, so hostile YAML cannot blow up.
[[nodiscard]] std::expected<std::vector<nlohmann::json>, std::string> parse_json_or_yaml(std::string_view text);

// Deeper JSON is refused before it is parsed: the parser keeps its own stack,
// but copying, printing or comparing a document recurses once per level, and
// a few hundred thousand '[' would exhaust the thread's stack. Kubernetes
// objects nest a few dozen levels.
inline constexpr int kMaxJsonDepth = 1000;

// Whether arrays and objects nest deeper than `limit` outside strings.
bool nests_deeper_than(std::string_view text, int limit);

// One JSON document, nested at most kMaxJsonDepth levels. The error is one
// short line: the parser's message, or how deep the text nests.
[[nodiscard]] std::expected<nlohmann::json, std::string> parse_json(std::string_view text);

// The text on one line (control characters become spaces), cut at `limit`
// characters with "..." appended: for error messages that quote input.
std::string one_line(std::string_view text, std::size_t limit = 300);

}  // namespace kubenat
