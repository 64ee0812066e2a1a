#pragma once

// A network namespace made for the lifetime of an object (`ip netns add`,
// `ip netns del`): benchmarks and tests put rules into one of their own.

#include <expected>
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

}  // namespace kubenat
