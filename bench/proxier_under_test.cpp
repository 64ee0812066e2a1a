#include "bench/proxier_under_test.h"

#include <chrono>

#include "engine/clock.h"
#include "engine/iptables_backend.h"
#include "engine/iptables_runner.h"
#include "engine/iptables_syncer.h"
#include "engine/network_namespace.h"
#include "engine/nft_backend.h"
#include "engine/nft_netlink.h"
#include "engine/nft_proxier.h"

namespace kubenat::bench {
namespace {

constexpr std::chrono::milliseconds kNotDuringTheBench = std::chrono::hours(1);

class IptablesUnderTest final : public ProxierUnderTest {
 public:
  IptablesUnderTest(const std::string& netns, const ProxyConfig& config)
      : runner_(IptablesMode::Nft, netns),
        backend_(runner_, config.family, IptablesBackend::Options{recommended_payload_bytes(IptablesMode::Nft)}),
        syncer_(backend_, nullptr, clock_, IptablesSyncer::Options{kNotDuringTheBench, kNotDuringTheBench}),
        proxier_(syncer_, config) {}
  Proxier& proxier() override { return proxier_; }

 private:
  ProcessIptablesRunner runner_;
  IptablesBackend backend_;
  SteadyClock clock_;
  IptablesSyncer syncer_;
  IptablesProxier proxier_;
};

class NftablesUnderTest final : public ProxierUnderTest {
 public:
  NftablesUnderTest(KernelNftTransport transport, const ProxyConfig& config)
      : transport_(std::move(transport)),
        backend_(transport_, config.family, config.nftables_table),
        proxier_(backend_, nullptr, clock_, config, NftProxier::Options{kNotDuringTheBench, kNotDuringTheBench}) {}
  Proxier& proxier() override { return proxier_; }

 private:
  KernelNftTransport transport_;
  NftBackend backend_;
  SteadyClock clock_;
  NftProxier proxier_;
};

}  // namespace

std::expected<std::unique_ptr<ProxierUnderTest>, std::string> open_proxier(BenchBackend backend,
                                                                          const std::string& netns,
                                                                          const ProxyConfig& config) {
  switch (backend) {
    case BenchBackend::Iptables:
      return std::make_unique<IptablesUnderTest>(netns, config);
    case BenchBackend::Nftables: {
      // A netlink socket talks to the namespace it was opened in.
      std::expected<KernelNftTransport, std::string> transport = std::unexpected("not opened");
      auto entered = run_in_network_namespace(netns, [&] { transport = KernelNftTransport::open(); });
      if (!entered) return std::unexpected(entered.error());
      if (!transport) return std::unexpected("netlink socket in " + netns + ": " + transport.error());
      return std::make_unique<NftablesUnderTest>(std::move(*transport), config);
    }
    case BenchBackend::KubeProxy:
      break;
  }
  return std::unexpected("the kube-proxy baseline has no kubenat proxier");
}

}  // namespace kubenat::bench
