// kubenat run: the daemon. Watches Services, EndpointSlices and this Node,
// and keeps this node's rules in step, as kube-proxy does. With --routes it
// watches every Node and keeps a route to each other node's pod CIDRs
// (engine/routes/proxier.h); with --proxy-mode none it does only that.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <thread>

#include "engine/daemon/cleanup_after_first_sync.h"
#include "engine/daemon/health.h"
#include "engine/daemon/http_server.h"
#include "engine/daemon/ip_families.h"
#include "engine/daemon/kube_proxy_configuration.h"
#include "engine/daemon/local_addresses.h"
#include "engine/daemon/log.h"
#include "engine/daemon/metrics.h"
#include "engine/daemon/node_sysctls.h"
#include "engine/daemon/proxy_stack.h"
#include "engine/daemon/service_health_server.h"
#include "engine/daemon/sync_reporter.h"
#include "engine/sync_loop.h"
#include "rules/iptables/compiler.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/run_flags.h"
#include "watch/api_client.h"
#include "watch/api_config.h"
#include "watch/cluster_watcher.h"
#include "watch/node_reader.h"

namespace kubenat {
namespace {

std::expected<ApiServerConfig, std::string> api_server_config(const RunConfig& run) {
  std::expected<ApiServerConfig, std::string> config;
  if (!run.kubeconfig.empty()) {
    config = load_kubeconfig(run.kubeconfig);
  } else if (!run.master.empty()) {
    config = ApiServerConfig{};
  } else {
    config = in_cluster_config();
  }
  if (config && !run.master.empty()) config->server = run.master;
  return config;
}

std::expected<ProxyConfig, std::string> proxy_config(const RunConfig& run, const std::string& node_name) {
  ProxyFlags flags;
  flags.node = node_name;
  flags.cluster_cidrs = run.cluster_cidrs;
  flags.detect_local_mode = run.detect_local_mode;
  flags.pod_bridge_interface = run.pod_bridge_interface;
  flags.pod_interface_name_prefix = run.pod_interface_name_prefix;
  flags.node_ips = run.node_ips;
  flags.nodeport_addresses = run.nodeport_addresses;
  flags.masquerade_all = run.masquerade_all;
  flags.masquerade_bit = run.masquerade_bit;
  flags.localhost_nodeports = run.localhost_nodeports;
  flags.nftables_table = run.nftables_table;
  // The node's own family decides the plan's (one family per proxier).
  if (!run.node_ips.empty() && run.node_ips.front().find(':') != std::string::npos) flags.ip_family = "ipv6";
  auto config = make_proxy_config(flags, ClusterState{});
  if (!config) return config;
  // NodePorts answer on this host's real interface addresses.
  if (auto addresses = local_addresses()) config->local_addresses = std::move(*addresses);
  return config;
}

// This node's Node object, read once before the watch starts: a few tries
// within about ten seconds, so that an API server that is slow to answer at
// boot does not make a dual-stack node single-stack; nullopt when the server
// has no such Node.
std::expected<std::optional<Node>, std::string> read_own_node(const ApiServerConfig& api, const std::string& name) {
  ApiClientOptions options;
  options.connect_timeout = std::chrono::seconds(2);
  options.request_timeout = std::chrono::seconds(3);
  auto client = ApiClient::create(api, options);
  if (!client) return std::unexpected(client.error());
  std::expected<std::optional<Node>, std::string> node;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    node = read_node(**client, name);
    if (node) break;
  }
  return node;
}

// /configz: the configuration in effect, the host name resolved.
std::string configz_body(RunConfig run, const std::string& node_name) {
  run.hostname_override = node_name;
  return configz(run);
}

std::string host_name() {
  char buffer[256] = {};
  if (::gethostname(buffer, sizeof buffer - 1) != 0) return "localhost";
  std::string name(buffer);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

int run_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  if (run_help_requested(args)) {
    out << run_flags_usage();
    return 0;
  }
  auto run = parse_run_flags(args, err);
  if (!run) {
    err << run.error() << "\n";
    return 2;
  }
  Log log(err, run->verbosity);
  auto api = api_server_config(*run);
  if (!api) {
    err << "kubenat run: " << api.error() << "\n";
    return 2;
  }
  const std::string node_name = run->hostname_override.empty() ? host_name() : run->hostname_override;
  auto proxy = proxy_config(*run, node_name);
  if (!proxy) {
    err << "kubenat run: " << proxy.error() << "\n";
    return 2;
  }

  // Both families when the node is dual-stack (engine/daemon/ip_families.h):
  // the flags tell, else this node's Node object, read once as kube-proxy
  // reads it at start-up.
  std::optional<Node> own_node;
  if (parse_proxy_mode(run->proxy_mode) != ProxyMode::None && !dual_stack_by_flags(proxy->node_ips, proxy->cluster_cidrs)) {
    auto node = read_own_node(*api, node_name);
    if (node) {
      own_node = std::move(*node);
    } else {
      log.warning("cannot read this node's Node object to learn its IP families (" + node.error() +
                  "); proxying the families the flags name");
    }
  }
  const std::vector<IpFamily> families = ip_families(proxy->node_ips, proxy->cluster_cidrs, own_node);
  proxy->family = families.front();

  // SIGINT and SIGTERM end the loop; every thread started from here on
  // inherits the blocked mask, so only the waiter below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  // The service proxier of --proxy-mode and, with --routes, the static
  // routes: every node's pod CIDRs, so every Node is watched and any Node's
  // change makes a sync due.
  const ProxyMode mode = *parse_proxy_mode(run->proxy_mode);  // validated with the flags
  const bool proxying = mode != ProxyMode::None;
  // kube-proxy's settings of the node, made before the first rule as its
  // platformSetup makes them; not in routes-only mode, where the cluster's
  // own kube-proxy owns them.
  std::size_t sysctls_failed = 0;
  if (proxying) {
    KernelSysctlFiles files;
    ProxyConfig ipv4 = *proxy;
    ipv4.family = IpFamily::V4;
    const bool route_localnet = mode == ProxyMode::Iptables &&
                                std::ranges::find(families, IpFamily::V4) != families.end() &&
                                accepts_localhost_nodeports(ipv4);
    const auto settings = node_sysctls(run->conntrack, std::thread::hardware_concurrency(), route_localnet);
    for (const SysctlOutcome& outcome : apply_node_sysctls(settings, files)) {
      switch (outcome.result) {
        case SysctlOutcome::Result::Set:
          log.info(0, "set " + outcome.to_string());
          break;
        case SysctlOutcome::Result::Unchanged:
          log.info(2, outcome.to_string());
          break;
        case SysctlOutcome::Result::Failed:
          ++sysctls_failed;
          log.warning(outcome.to_string() + "; going on without it");
          break;
      }
    }
    // kube-proxy's oomScoreAdj: a node proxy should be the last process the
    // OOM killer picks. Like the sysctls, not worth stopping for.
    if (run->oom_score_adj) {
      if (auto written = files.write("/proc/self/oom_score_adj", *run->oom_score_adj); !written) {
        log.warning(written.error() + "; going on with the present OOM score");
      } else {
        log.info(0, "set /proc/self/oom_score_adj = " + std::to_string(*run->oom_score_adj));
      }
    }
    // As kube-proxy's iptables proxier: with liberal TCP tracking nothing is
    // marked INVALID for the DROP rule to catch, so none is written.
    if (auto liberal = files.read("/proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal")) {
      proxy->conntrack_tcp_liberal = *liberal != 0;
    }
  }

  ProxyStackOptions stack_options;
  stack_options.mode = mode;
  stack_options.config = *proxy;
  stack_options.families = families;
  if (run->iptables_mode == "nft") stack_options.iptables_mode = IptablesMode::Nft;
  if (run->iptables_mode == "legacy") stack_options.iptables_mode = IptablesMode::Legacy;
  stack_options.integrity_check_period = run->sync_period;
  if (run->routes) stack_options.routes = RouteProxier::Options{node_name, run->route_protocol};
  SteadyClock clock;
  auto stack = ProxyStack::build(stack_options, clock);
  if (!stack) {
    err << "kubenat run: " << stack.error() << "\n";
    return 1;
  }
  SyncLoop::Options loop_options{run->min_sync_period, run->sync_period, {}, node_name, run->routes};
  if (proxying) loop_options.wait_for = {WatchedResource::Services, WatchedResource::EndpointSlices};
  if (run->routes) loop_options.wait_for.insert(WatchedResource::Nodes);
  // NodeCIDR tells pod traffic by this Node's podCIDRs: a first sync before
  // the Node is listed would write no detector (kube-proxy waits for them).
  if (proxying && proxy->detect_local_mode == DetectLocalMode::NodeCidr) {
    loop_options.wait_for.insert(WatchedResource::Nodes);
  }

  MetricsRegistry registry;
  ProxyMetrics metrics(registry, mode, families);
  metrics.node_sysctls_failed.set(static_cast<double>(sysctls_failed));
  ProxyHealth health(clock, health_timeout_for(run->sync_period));
  // The health-check node ports of LoadBalancer Services with
  // externalTrafficPolicy Local, on a thread of their own; the listeners go
  // before `health`, which their handlers read.
  HttpListeners health_check_listeners;
  std::optional<ServiceHealthServer> health_checks;
  if (proxying) health_checks.emplace(health_check_listeners, health, *proxy, families);
  SyncReporter reporter(metrics, health, log, families, proxying, health_checks ? &*health_checks : nullptr);
  // What kube-proxy or another kubenat mode left goes once this mode's
  // rules are in (engine/daemon/cleanup_after_first_sync.h).
  Proxier* service_proxier = (*stack)->service_proxier();
  std::optional<CleanupAfterFirstSync> switching;
  if (service_proxier != nullptr) {
    const Leftovers leftovers =
        other_modes_leftovers(mode, (*stack)->iptables_mode().value_or(IptablesMode::Nft), run->nftables_table);
    service_proxier = &switching.emplace(*service_proxier, [leftovers] {
      KernelLeftovers kernel;
      return remove_leftovers(leftovers, kernel);
    });
  }
  SyncLoop loop(service_proxier, clock, loop_options, &reporter);
  if (Proxier* routes = (*stack)->route_proxier()) loop.add_proxier(*routes);
  if (health_checks) loop.add_proxier(*health_checks);

  std::vector<std::unique_ptr<HttpServer>> servers;
  auto serve = [&](const std::string& address, bool health_paths, bool metrics_path) -> bool {
    if (address.empty()) return true;
    auto server = std::make_unique<HttpServer>(address);
    if (health_paths) {
      server->handle("/healthz", [&] {
        HealthReply reply = health.healthz(std::chrono::system_clock::now());
        metrics.proxy_healthz_total.with({std::to_string(reply.status)}).inc();
        return HttpReply{reply.status, std::string(kHealthContentType), std::move(reply.body)};
      });
      server->handle("/livez", [&] {
        HealthReply reply = health.livez(std::chrono::system_clock::now());
        metrics.proxy_livez_total.with({std::to_string(reply.status)}).inc();
        return HttpReply{reply.status, std::string(kHealthContentType), std::move(reply.body)};
      });
    }
    if (metrics_path) {
      // kube-proxy's metrics address: /metrics, the mode, the effective
      // configuration, and a liveness answer that needs no sync.
      server->handle("/metrics", [&] { return HttpReply{200, std::string(kPrometheusTextContentType), registry.render()}; });
      server->handle("/proxyMode", [&] { return HttpReply{200, "text/plain; charset=utf-8", run->proxy_mode}; });
      server->handle("/configz", [&, effective = configz_body(*run, node_name)] {
        return HttpReply{200, "application/json", effective};
      });
      server->handle("/healthz", [] { return HttpReply{200, "text/plain; charset=utf-8", "ok"}; });
    }
    if (auto started = server->start(); !started) {
      err << "kubenat run: " << started.error() << "\n";
      return false;
    }
    log.info(0, "serving " + std::string(health_paths ? "/healthz, /livez" : "/metrics, /proxyMode, /configz, /healthz") + " on " + address +
                    " (port " + std::to_string(server->port()) + ")");
    servers.push_back(std::move(server));
    return true;
  };
  if (!serve(run->healthz_bind_address, true, false) || !serve(run->metrics_bind_address, false, true)) return 1;

  ClusterWatcherOptions watch_options;
  watch_options.only_own_node = !run->routes;
  watch_options.node_name = node_name;
  watch_options.service_proxy_name = run->service_proxy_name;
  auto watcher = ClusterWatcher::start(*api, loop, watch_options);
  if (!watcher) {
    err << "kubenat run: " << watcher.error() << "\n";
    return 1;
  }
  log.info(0, "kubenat run: node " + node_name + ", " + (*stack)->description() + ", API server " + api->server + ", sync period " + std::to_string(run->sync_period.count()) +
                  " ms, " +
                  (run->min_sync_period
                       ? "min sync period " + std::to_string(run->min_sync_period->count()) + " ms"
                       : std::string("syncs spaced by their cost (at most 1000 ms)")));

  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    log.info(0, std::string("received ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT") + ", stopping; rules stay");
    loop.stop();
  });
  loop.run();
  (*watcher)->stop();
  for (auto& server : servers) server->stop();
  // The waiter may still be in sigwait when the loop ended another way.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

}  // namespace kubenat
