#include "engine/network_namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "engine/process.h"

namespace kubenat {

std::expected<ScopedNetworkNamespace, std::string> ScopedNetworkNamespace::create(std::string name) {
  auto result = run_process({"ip", "netns", "add", name});
  if (!result) return std::unexpected(result.error());
  if (!result->ok()) return std::unexpected("ip netns add " + name + ": " + result->err);
  return ScopedNetworkNamespace(std::move(name));
}

ScopedNetworkNamespace::ScopedNetworkNamespace(ScopedNetworkNamespace&& other) noexcept
    : name_(std::exchange(other.name_, std::string())) {}

ScopedNetworkNamespace::~ScopedNetworkNamespace() {
  if (!name_.empty()) (void)run_process({"ip", "netns", "del", name_});
}

std::expected<void, std::string> run_in_network_namespace(const std::string& name,
                                                          const std::function<void()>& work) {
  const int own = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0) return std::unexpected(std::string("open /proc/thread-self/ns/net: ") + std::strerror(errno));
  const std::string path = "/var/run/netns/" + name;
  const int target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    ::close(own);
    return std::unexpected("open " + path + ": " + std::strerror(errno));
  }
  if (::setns(target, CLONE_NEWNET) != 0) {
    const std::string error = std::string("setns ") + path + ": " + std::strerror(errno);
    ::close(target);
    ::close(own);
    return std::unexpected(error);
  }
  ::close(target);
  work();
  // Going back cannot fail for the namespace we came from short of a kernel
  // bug; if it did, this thread would act in the wrong namespace.
  if (::setns(own, CLONE_NEWNET) != 0) std::abort();
  ::close(own);
  return {};
}

}  // namespace kubenat
