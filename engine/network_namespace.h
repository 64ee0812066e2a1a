#pragma once

// A network namespace made for the lifetime of an object (`ip netns add`,
// `ip netns del`): benchmarks and tests put rules into one of their own.

#include <expected>
#include <functional>
#include <string>

namespace kubenat {

class ScopedNetworkNamespace {
 public:
  // Adds namespace `name`; the error says why it could not (root is needed).
  [[nodiscard]] static std::expected<ScopedNetworkNamespace, std::string> create(std::string name);
  ScopedNetworkNamespace(ScopedNetworkNamespace&& other) noexcept;
  ScopedNetworkNamespace& operator=(ScopedNetworkNamespace&&) = delete;
  ScopedNetworkNamespace(const ScopedNetworkNamespace&) = delete;
  ~ScopedNetworkNamespace();  // deletes it

  const std::string& name() const { return name_; }

 private:
  explicit ScopedNetworkNamespace(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

// Runs `work` with the calling thread in network namespace `name` (as `ip
// netns` names it) and returns to the thread's own namespace afterwards.
// Sockets opened meanwhile stay in `name` for their lifetime: that is how a
// netlink socket talks to another namespace's kernel state.
[[nodiscard]] std::expected<void, std::string> run_in_network_namespace(const std::string& name,
                                                                        const std::function<void()>& work);

}  // namespace kubenat
