#include "engine/daemon/leftovers.h"

#include <algorithm>
#include <fstream>

#include "engine/iptables/cleanup.h"
#include "engine/nftables/cleanup.h"
#include "engine/process.h"
#include "engine/routes/cleanup.h"

namespace kubenat {
namespace {

constexpr const char* kKubeProxyTable = "kube-proxy";

std::string flavour_name(IptablesMode flavour, IpFamily family) {
  return std::string(family == IpFamily::V4 ? "iptables" : "ip6tables") +
         (flavour == IptablesMode::Nft ? "-nft" : "-legacy");
}

std::string counted(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace

Leftovers all_leftovers(const std::string& nftables_table, int route_protocol) {
  Leftovers out{{IptablesMode::Nft, IptablesMode::Legacy}, {kKubeProxyTable}, route_protocol};
  if (nftables_table != kKubeProxyTable) out.nftables_tables.push_back(nftables_table);
  return out;
}

Leftovers other_modes_leftovers(ProxyMode mode, IptablesMode flavour, const std::string& nftables_table) {
  Leftovers out;
  switch (mode) {
    case ProxyMode::Nftables:
      out.iptables = {IptablesMode::Nft, IptablesMode::Legacy};
      if (nftables_table != kKubeProxyTable) out.nftables_tables = {kKubeProxyTable};
      break;
    case ProxyMode::Iptables:
      out.iptables = {flavour == IptablesMode::Nft ? IptablesMode::Legacy : IptablesMode::Nft};
      out.nftables_tables = {kKubeProxyTable};
      if (nftables_table != kKubeProxyTable) out.nftables_tables.push_back(nftables_table);
      break;
    case ProxyMode::None:
      break;
  }
  return out;
}

KernelLeftovers::KernelLeftovers() = default;
KernelLeftovers::~KernelLeftovers() = default;

IptablesRunner* KernelLeftovers::iptables(IptablesMode flavour) {
  auto& runner = flavour == IptablesMode::Nft ? nft_ : legacy_;
  if (!runner) {
    // ip6tables comes with iptables; one program says whether the flavour is there.
    if (!program_in_path(flavour_name(flavour, IpFamily::V4) + "-save")) return nullptr;
    runner.emplace(flavour);
  }
  return &*runner;
}

std::vector<std::string> KernelLeftovers::iptables_tables(IptablesMode flavour, IpFamily family) {
  const std::vector<std::string> all = {"mangle", "nat", "filter"};
  if (flavour == IptablesMode::Nft) return all;
  std::ifstream names(family == IpFamily::V4 ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names");
  std::vector<std::string> loaded;
  for (std::string name; std::getline(names, name);) {
    if (std::find(all.begin(), all.end(), name) != all.end()) loaded.push_back(name);
  }
  return loaded;
}

std::expected<NftTransport*, std::string> KernelLeftovers::nftables() {
  if (!transport_) {
    auto opened = KernelNftTransport::open();
    if (!opened) return std::unexpected(opened.error());
    transport_.emplace(std::move(*opened));
  }
  return &*transport_;
}

std::expected<RouteBackend*, std::string> KernelLeftovers::routes() {
  if (!routes_) {
    auto opened = NetlinkRouteBackend::open();
    if (!opened) return std::unexpected(opened.error().message);
    routes_ = std::move(*opened);
  }
  return routes_.get();
}

LeftoverReport remove_leftovers(const Leftovers& leftovers, LeftoverKernel& kernel) {
  LeftoverReport report;
  for (IptablesMode flavour : leftovers.iptables) {
    IptablesRunner* runner = kernel.iptables(flavour);
    if (runner == nullptr) continue;  // not installed: it holds nothing
    for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
      const std::string name = flavour_name(flavour, family);
      const std::vector<std::string> tables = kernel.iptables_tables(flavour, family);
      if (tables.empty()) continue;
      auto removed = remove_iptables_leftovers(*runner, family, tables);
      if (!removed) {
        report.failures.push_back(name + ": " + removed.error());
      } else if (removed->chains > 0) {
        report.removed.push_back(name + ": " + counted(removed->chains, "chain") + " and " +
                                 counted(removed->jumps, "rule") + " jumping to them");
      }
    }
  }
  if (!leftovers.nftables_tables.empty()) {
    auto transport = kernel.nftables();
    if (!transport) {
      report.failures.push_back("nftables: " + transport.error());
    } else {
      for (const std::string& table : leftovers.nftables_tables) {
        for (IpFamily family : {IpFamily::V4, IpFamily::V6}) {
          const std::string name = std::string("nftables table ") + (family == IpFamily::V4 ? "ip " : "ip6 ") + table;
          auto deleted = delete_nftables_table(**transport, family, table);
          if (!deleted) {
            report.failures.push_back(name + ": " + deleted.error());
          } else if (*deleted) {
            report.removed.push_back(name);
          }
        }
      }
    }
  }
  if (leftovers.route_protocol) {
    auto backend = kernel.routes();
    if (!backend) {
      report.failures.push_back("routes: " + backend.error());
    } else if (auto removed = remove_routes(**backend, *leftovers.route_protocol); !removed) {
      report.failures.push_back("routes of protocol " + std::to_string(*leftovers.route_protocol) + ": " +
                                removed.error());
    } else if (*removed > 0) {
      report.removed.push_back(counted(*removed, "route") + " of protocol " +
                               std::to_string(*leftovers.route_protocol));
    }
  }
  return report;
}

}  // namespace kubenat
