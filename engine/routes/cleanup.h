#pragma once

// Taking kubenat's static pod-CIDR routes off a node, for `kubenat cleanup`:
// every route of its protocol in the main table, and no other.

#include <cstddef>
#include <expected>
#include <string>

#include "engine/routes/backend.h"

namespace kubenat {

// The routes of `protocol` deleted; a route already gone counts as done.
// The error names the route that could not be deleted.
[[nodiscard]] std::expected<std::size_t, std::string> remove_routes(RouteBackend& backend, int protocol);

}  // namespace kubenat
