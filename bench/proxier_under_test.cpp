#include "bench/proxier_under_test.h"

#include <chrono>

#include "engine/clock.h"
#include "engine/daemon/proxy_stack.h"

namespace kubenat::bench {
namespace {

constexpr std::chrono::milliseconds kNotDuringTheBench = std::chrono::hours(1);

class StackUnderTest final : public ProxierUnderTest {
 public:
  Proxier& proxier() override { return *stack_->service_proxier(); }

  SteadyClock clock_;
  std::unique_ptr<ProxyStack> stack_;
};

}  // namespace

std::expected<std::unique_ptr<ProxierUnderTest>, std::string> open_proxier(BenchBackend backend,
                                                                          const std::string& netns,
                                                                          const ProxyConfig& config) {
  ProxyStackOptions options;
  switch (backend) {
    case BenchBackend::Iptables:
      options.mode = ProxyMode::Iptables;
      options.iptables_mode = IptablesMode::Nft;
      break;
    case BenchBackend::Nftables: options.mode = ProxyMode::Nftables; break;
    case BenchBackend::KubeProxy:
    case BenchBackend::KubeProxyNftables:
    case BenchBackend::Floor:
    case BenchBackend::NatFloor: return std::unexpected(std::string(backend_name(backend)) + " has no kubenat proxier");
  }
  options.config = config;
  options.conntrack_cleanup = false;
  options.full_sync_period = kNotDuringTheBench;
  options.integrity_check_period = kNotDuringTheBench;
  options.netns = netns;
  auto under_test = std::make_unique<StackUnderTest>();
  auto stack = ProxyStack::build(options, under_test->clock_);
  if (!stack) return std::unexpected(stack.error());
  under_test->stack_ = std::move(*stack);
  return under_test;
}

}  // namespace kubenat::bench
