// kubenat run: the daemon. Watches Services, EndpointSlices and this Node,
// and keeps this node's rules in step, as kube-proxy does. With --routes it
// watches every Node and keeps a route to each other node's pod CIDRs
// (engine/routes/proxier.h); with --proxy-mode none it does only that.

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <thread>

#include "engine/daemon/health.h"
#include "engine/daemon/http_server.h"
#include "engine/daemon/kube_proxy_configuration.h"
#include "engine/daemon/local_addresses.h"
#include "engine/daemon/metrics.h"
#include "engine/daemon/proxy_stack.h"
#include "engine/sync_loop.h"
#include "tools/kubenat/commands.h"
#include "tools/kubenat/proxy_flags.h"
#include "tools/kubenat/run_flags.h"
#include "watch/api_config.h"
#include "watch/cluster_watcher.h"

namespace kubenat {
namespace {

// klog-like lines on stderr: "I1125 14:30:00.123456 message".
class Log {
 public:
  Log(std::ostream& out, int verbosity) : out_(out), verbosity_(verbosity) {}
  void info(int level, const std::string& message) { write('I', level, message); }
  void warning(const std::string& message) { write('W', 0, message); }
  void error(const std::string& message) { write('E', 0, message); }

 private:
  void write(char severity, int level, const std::string& message) {
    if (level > verbosity_) return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    std::lock_guard lock(mu_);
    out_ << severity << std::put_time(&tm, "%m%d %H:%M:%S") << '.' << std::setw(6) << std::setfill('0') << micros
         << ' ' << message << '\n'
         << std::flush;
  }
  std::ostream& out_;
  int verbosity_;
  std::mutex mu_;
};

// Turns what the sync loop reports into metrics, health and log lines.
class Reporter final : public SyncObserver {
 public:
  // `proxying`: whether there is a service proxier (--proxy-mode none has
  // none, and its empty result is not a sync of rules).
  Reporter(ProxyMetrics& metrics, ProxyHealth& health, Log& log, IpFamily family, bool proxying)
      : metrics_(metrics), health_(health), log_(log), family_(family), proxying_(proxying) {}

  void sync_queued() override {
    health_.queued_update(family_);
    metrics_.sync_proxy_rules_last_queued_timestamp.set_to_time(std::chrono::system_clock::now());
  }

  void sync_done(const SyncReport& report) override {
    bool ok = !proxying_ || service_sync_done(report);
    for (const SyncResult& other : report.other_results) ok = other_sync_done(other) && ok;
    // Healthy only when every proxier synced: in routes-only mode the routes
    // are what this daemon is for.
    if (ok) health_.updated(family_);
  }

  // Logs and records the service proxier's sync; returns whether it succeeded.
  bool service_sync_done(const SyncReport& report) {
    const SyncResult& r = report.result;
    metrics_.record_sync(r.full ? SyncKind::Full : SyncKind::Partial, r.ok, report.duration, r.stats.bytes,
                         std::chrono::system_clock::now());
    metrics_.service_changes_total.inc(static_cast<double>(report.services_changed));
    metrics_.endpoint_changes_total.inc(static_cast<double>(report.endpoints_changed));
    for (auto latency : report.programming_latencies) {
      metrics_.network_programming_duration.observe(std::chrono::duration<double>(latency).count());
    }
    for (const std::string& warning : r.warnings) log_.warning(warning);
    const double ms = std::chrono::duration<double, std::milli>(report.duration).count();
    if (!r.ok) {
      log_.error("sync failed after " + std::to_string(ms) + " ms: " + r.error);
      return false;
    }
    log_.info(r.full ? 0 : 2, std::string(r.full ? "full sync (" + r.reason + ")" : "partial sync") + ": " +
                                  r.summary + ", " + std::to_string(ms) + " ms");
    return true;
  }

  // The other proxiers' (static routes): warnings, the route gauges, a line
  // when something changed. Returns whether it succeeded.
  bool other_sync_done(const SyncResult& r) {
    for (const std::string& warning : r.warnings) log_.warning(warning);
    if (r.routes) {
      const RouteSyncStats& s = *r.routes;
      metrics_.routes.set(static_cast<double>(s.programmed));
      metrics_.route_skipped_nodes.set(static_cast<double>(s.skipped_nodes));
      if (r.ok) log_.info(s.added + s.replaced + s.deleted > 0 ? 0 : 2, "routes: " + r.summary);
    }
    if (!r.ok) log_.error("route sync failed: " + r.error);
    return r.ok;
  }

  void watch_incident(WatchedResource resource, WatchIncident incident, const std::string& detail) override {
    const std::string name(watched_resource_name(resource));
    switch (incident) {
      case WatchIncident::Reconnect:
        metrics_.watch_reconnects_total.with({name}).inc();
        log_.info(1, "watch " + name + ": reconnecting: " + detail);
        break;
      case WatchIncident::Relist:
        metrics_.watch_relists_total.with({name}).inc();
        log_.info(0, "watch " + name + ": listing again: " + detail);
        break;
      case WatchIncident::DecodeError:
        metrics_.watch_decode_errors_total.with({name}).inc();
        log_.warning("watch " + name + ": skipped an event: " + detail);
        break;
      case WatchIncident::ServerUnreachable:
        log_.warning("watch " + name + ": API server unreachable: " + detail);
        break;
    }
  }

  void own_node_changed(const std::optional<Node>& node) override {
    const bool eligible = node_eligible_for_traffic(node);
    if (eligible == health_.node_eligible()) return;
    health_.set_node_eligible(eligible);
    if (eligible) {
      log_.info(0, "this node is eligible for load-balancer traffic again: /healthz answers 200");
    } else {
      log_.warning(std::string("this node is ") + (!node ? "gone" : node->being_deleted ? "being deleted" : "tainted " +
                   std::string(kToBeDeletedTaint)) + ": /healthz answers 503 (nodeEligible false) so load balancers drain it");
    }
  }

  void object_diagnostics(const Diagnostics& diagnostics) override {
    for (const Diagnostic& d : diagnostics) log_.warning(d.to_string());
  }

 private:
  ProxyMetrics& metrics_;
  ProxyHealth& health_;
  Log& log_;
  IpFamily family_;
  bool proxying_;
};

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
  ProxyStackOptions stack_options;
  stack_options.mode = mode;
  stack_options.config = *proxy;
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

  MetricsRegistry registry;
  ProxyMetrics metrics(registry);
  ProxyHealth health(clock, health_timeout_for(run->sync_period));
  Reporter reporter(metrics, health, log, proxy->family, proxying);
  SyncLoop loop((*stack)->service_proxier(), clock, loop_options, &reporter);
  if (Proxier* routes = (*stack)->route_proxier()) loop.add_proxier(*routes);

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
  auto watcher = ClusterWatcher::start(*api, loop, watch_options);
  if (!watcher) {
    err << "kubenat run: " << watcher.error() << "\n";
    return 1;
  }
  log.info(0, "kubenat run: node " + node_name + ", " + (*stack)->description() + ", API server " + api->server + ", sync period " + std::to_string(run->sync_period.count()) +
                  " ms, min sync period " + std::to_string(run->min_sync_period.count()) + " ms");

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
