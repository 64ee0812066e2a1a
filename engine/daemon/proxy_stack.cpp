#include "engine/daemon/proxy_stack.h"

#include <utility>

#include "engine/conntrack/cleaner.h"
#include "engine/dual_stack_proxier.h"
#include "engine/iptables/backend.h"
#include "engine/iptables/proxier.h"
#include "engine/iptables/syncer.h"
#include "engine/network_namespace.h"
#include "engine/nftables/backend.h"
#include "engine/nftables/transport.h"
#include "engine/nftables/proxier.h"
#include "engine/routes/backend.h"

namespace kubenat {

// Members in construction order: each part refers to the ones above it.
struct ProxyStack::Parts {
  ProxyMode mode = ProxyMode::Iptables;
  std::optional<IptablesMode> iptables_mode;
  std::vector<IpFamily> families;
  std::string description;
  std::unique_ptr<ProcessConntrackCleaner> conntrack;

  std::unique_ptr<ProcessIptablesRunner> iptables_runner;
  std::unique_ptr<KernelNftTransport> nft_transport;
  // One backend and proxier per family, the node's own first.
  struct Family {
    std::unique_ptr<IptablesBackend> iptables_backend;
    std::unique_ptr<IptablesSyncer> iptables_syncer;
    std::unique_ptr<IptablesProxier> iptables_proxier;
    std::unique_ptr<NftBackend> nft_backend;
    std::unique_ptr<NftProxier> nft_proxier;
    Proxier* proxier() const {
      if (iptables_proxier) return iptables_proxier.get();
      return nft_proxier.get();
    }
  };
  std::vector<Family> by_family;
  std::unique_ptr<DualStackProxier> dual_stack;

  std::unique_ptr<NetlinkRouteBackend> route_backend;
  std::unique_ptr<RouteProxier> route_proxier;
};

namespace {

std::optional<std::string> netns_of(const ProxyStackOptions& options) {
  if (options.netns.empty()) return std::nullopt;
  return options.netns;
}

// Opens a kernel socket in options.netns: a netlink socket talks to the
// namespace it was opened in for the whole of its life.
template <class Opened>
std::expected<Opened, std::string> open_in(const ProxyStackOptions& options,
                                           const std::function<std::expected<Opened, std::string>()>& open) {
  if (options.netns.empty()) return open();
  std::expected<Opened, std::string> opened = std::unexpected("not opened");
  auto entered = run_in_network_namespace(options.netns, [&] { opened = open(); });
  if (!entered) return std::unexpected(entered.error());
  if (!opened) return std::unexpected(opened.error() + " (in network namespace " + options.netns + ")");
  return opened;
}

}  // namespace

std::expected<std::unique_ptr<ProxyStack>, std::string> ProxyStack::build(const ProxyStackOptions& options,
                                                                          const Clock& clock) {
  auto parts = std::make_unique<Parts>();
  parts->mode = options.mode;
  if (options.conntrack_cleanup && options.mode != ProxyMode::None) {
    parts->conntrack = std::make_unique<ProcessConntrackCleaner>(netns_of(options));
  }
  parts->families = options.families.empty() ? std::vector<IpFamily>{options.config.family} : options.families;
  if (parts->families.size() > 2 || (parts->families.size() == 2 && parts->families[0] == parts->families[1])) {
    return std::unexpected("families: expects one family, or IPv4 and IPv6");
  }
  const bool dual_stack = parts->families.size() == 2;
  parts->by_family.resize(parts->families.size());
  switch (options.mode) {
    case ProxyMode::Iptables: {
      // Asked only when not told: detecting runs `iptables --version`.
      const IptablesMode mode = options.iptables_mode ? *options.iptables_mode : detect_iptables_mode();
      parts->iptables_mode = mode;
      parts->iptables_runner = std::make_unique<ProcessIptablesRunner>(mode, netns_of(options));
      for (std::size_t i = 0; i < parts->families.size(); ++i) {
        ProxyConfig config = options.config;
        config.family = parts->families[i];
        Parts::Family& family = parts->by_family[i];
        family.iptables_backend = std::make_unique<IptablesBackend>(
            *parts->iptables_runner, config.family,
            IptablesBackend::Options{options.max_payload_bytes.value_or(recommended_payload_bytes(mode))});
        family.iptables_syncer = std::make_unique<IptablesSyncer>(
            *family.iptables_backend, parts->conntrack.get(), clock,
            IptablesSyncer::Options{options.full_sync_period, options.integrity_check_period});
        family.iptables_proxier = std::make_unique<IptablesProxier>(*family.iptables_syncer, config);
      }
      parts->description = mode == IptablesMode::Nft ? "iptables-nft" : "iptables-legacy";
      if (dual_stack) parts->description += " for IPv4 and IPv6";
      break;
    }
    case ProxyMode::Nftables: {
      auto transport = open_in<KernelNftTransport>(options, [] { return KernelNftTransport::open(); });
      if (!transport) return std::unexpected("nftables: " + transport.error());
      parts->nft_transport = std::make_unique<KernelNftTransport>(std::move(*transport));
      for (std::size_t i = 0; i < parts->families.size(); ++i) {
        ProxyConfig config = options.config;
        config.family = parts->families[i];
        Parts::Family& family = parts->by_family[i];
        family.nft_backend = std::make_unique<NftBackend>(*parts->nft_transport, config.family, config.nftables_table);
        family.nft_proxier =
            std::make_unique<NftProxier>(*family.nft_backend, parts->conntrack.get(), clock, config,
                                         NftProxier::Options{options.full_sync_period, options.integrity_check_period});
      }
      parts->description = dual_stack ? "nftables tables ip and ip6 " + options.config.nftables_table
                                      : std::string("nftables table ") +
                                            (parts->families[0] == IpFamily::V4 ? "ip " : "ip6 ") +
                                            options.config.nftables_table;
      break;
    }
    case ProxyMode::None: parts->description = "no service proxying"; break;
  }
  if (dual_stack && options.mode != ProxyMode::None) {
    parts->dual_stack = std::make_unique<DualStackProxier>(parts->families[0], *parts->by_family[0].proxier(),
                                                           *parts->by_family[1].proxier());
  }
  if (options.routes) {
    using Opened = std::unique_ptr<NetlinkRouteBackend>;
    auto backend = open_in<Opened>(options, []() -> std::expected<Opened, std::string> {
      auto opened = NetlinkRouteBackend::open();
      if (!opened) return std::unexpected(opened.error().message);
      return std::move(*opened);
    });
    if (!backend) return std::unexpected("routes: " + backend.error());
    parts->route_backend = std::move(*backend);
    parts->route_proxier = std::make_unique<RouteProxier>(*parts->route_backend, *options.routes);
    parts->description += ", static routes (proto " + std::to_string(options.routes->protocol) + ")";
  }
  return std::unique_ptr<ProxyStack>(new ProxyStack(std::move(parts)));
}

ProxyStack::ProxyStack(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
ProxyStack::~ProxyStack() = default;

Proxier* ProxyStack::service_proxier() const {
  if (parts_->dual_stack) return parts_->dual_stack.get();
  return parts_->by_family.empty() ? nullptr : parts_->by_family.front().proxier();
}

const std::vector<IpFamily>& ProxyStack::families() const { return parts_->families; }
Proxier* ProxyStack::route_proxier() const { return parts_->route_proxier.get(); }
ProxyMode ProxyStack::mode() const { return parts_->mode; }
std::optional<IptablesMode> ProxyStack::iptables_mode() const { return parts_->iptables_mode; }
std::string ProxyStack::description() const { return parts_->description; }

}  // namespace kubenat
