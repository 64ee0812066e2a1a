#include "engine/routes/cleanup.h"

#include <cerrno>

namespace kubenat {

std::expected<std::size_t, std::string> remove_routes(RouteBackend& backend, int protocol) {
  auto routes = backend.list_routes(protocol);
  if (!routes) return std::unexpected(routes.error().message);
  std::size_t removed = 0;
  for (const KernelRoute& route : *routes) {
    if (auto done = backend.remove(route); !done) {
      if (done.error().code == ESRCH) continue;
      return std::unexpected(done.error().message);
    }
    ++removed;
  }
  return removed;
}

}  // namespace kubenat
