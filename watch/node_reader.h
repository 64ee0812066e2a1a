#pragma once

// One GET of a Node, for what must be known before the watch starts (a
// node's IP families decide which proxiers the daemon builds), as kube-proxy
// reads its Node at start-up.

#include <expected>
#include <optional>
#include <string>

#include "rules/model.h"
#include "watch/api_transport.h"

namespace kubenat {

// The Node `name`; nullopt when the API server has none by that name. The
// error says why it could not be read (transport, status, undecodable).
[[nodiscard]] std::expected<std::optional<Node>, std::string> read_node(ApiTransport& api, const std::string& name);

}  // namespace kubenat
