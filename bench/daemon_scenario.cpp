#include "bench/daemon_scenario.h"

#include <algorithm>
#include <expected>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "bench/bench_cluster.h"
#include "bench/cluster_churn.h"
#include "bench/daemon_log.h"
#include "bench/daemon_process.h"
#include "bench/simulator_namespace.h"
#include "rules/encode.h"

namespace kubenat::bench {
namespace {

namespace fs = std::filesystem;
using steady = std::chrono::steady_clock;
using apiserver_sim::ApiServerSim;

constexpr const char* kOwnNode = "node-0";  // the synthetic cluster's node-0, as every bench cell compiles for
constexpr auto kFirstSyncLimit = std::chrono::minutes(20);
constexpr auto kSettleLimit = std::chrono::minutes(5);
// After the last change, time for its watch event to reach the daemon and
// be queued, before "nothing pending" means anything.
constexpr auto kWatchDelivery = std::chrono::seconds(1);
// The daemon writes its log line after the sync's metrics: a change applied
// may need a moment more to show in the log.
constexpr int kLogAttempts = 10;
// Steady changes: what a cluster's controllers write most, and no Nodes
// (other Nodes never reach the daemon, which watches only its own, and its
// own Node recompiles every Service: neither is a change to time).
constexpr ChurnMix kSteadyMix{.endpoints = 80, .services = 20};

double seconds_between(WallClock::time_point from, WallClock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double load_average() {
  std::ifstream file("/proc/loadavg");
  double one_minute = 0;
  file >> one_minute;
  return one_minute;
}

int this_year() {
  const std::chrono::year_month_day today{std::chrono::floor<std::chrono::days>(WallClock::now())};
  return static_cast<int>(today.year());
}

DaemonLog read_log(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return parse_daemon_log(text.str(), this_year());
}

// The changes made since `before`, of the counts `after`.
ChurnCounts counts_since(const ChurnCounts& before, const ChurnCounts& after) {
  ChurnCounts since = after;
  for (const auto& [kind, count] : before.by_kind) since.by_kind[kind] -= count;
  since.refused -= before.refused;
  if (since.refused == 0) since.first_refusal.clear();
  return since;
}

bool settled(const DaemonCounters& c) { return c.settled(); }

// What a phase measures around its changes: the daemon's counters and CPU
// before, and after it settled.
class PhaseMeter {
 public:
  static std::expected<PhaseMeter, std::string> start(DaemonProcess& daemon) {
    auto counters = daemon.counters();
    if (!counters) return std::unexpected(counters.error());
    auto cpu = read_process_cpu(daemon.pid());
    if (!cpu) return std::unexpected(cpu.error());
    return PhaseMeter(*counters, *cpu);
  }

  // Waits for the daemon to apply every change, then fills the phase's
  // syncs, CPU, the daemon's own latency figures and memory.
  std::expected<void, std::string> finish(DaemonProcess& daemon, DaemonPhase& phase, const DaemonObserver& observer) {
    std::this_thread::sleep_for(kWatchDelivery);
    auto after = daemon.wait_for(settled, std::chrono::duration_cast<std::chrono::seconds>(kSettleLimit),
                                 "waiting for the changes to be applied", observer.cancelled);
    if (!after) return std::unexpected(after.error());
    auto cpu = read_process_cpu(daemon.pid());
    if (!cpu) return std::unexpected(cpu.error());
    auto memory = daemon.memory();
    if (!memory) return std::unexpected(memory.error());
    phase.syncs = after->syncs - before_.syncs;
    phase.cpu_seconds = cpu->total() - cpu_.total();
    phase.daemon_programming_count = after->programming_count - before_.programming_count;
    if (phase.daemon_programming_count > 0) {
      phase.daemon_programming_mean = (after->programming_seconds_sum - before_.programming_seconds_sum) /
                                      static_cast<double>(phase.daemon_programming_count);
    }
    phase.memory_after = *memory;
    return {};
  }

 private:
  PhaseMeter(DaemonCounters before, ProcessCpu cpu) : before_(before), cpu_(cpu) {}
  DaemonCounters before_;
  ProcessCpu cpu_;
};

// Makes `count` changes with `make`, the i-th due at start + i * between,
// each timed; stops early when cancelled.
template <class Make>
std::expected<std::vector<TimedChange>, std::string> timed_changes(std::size_t count,
                                                                   std::chrono::duration<double> between,
                                                                   const Make& make, const DaemonObserver& observer) {
  std::vector<TimedChange> changes;
  changes.reserve(count);
  const auto start = steady::now();
  for (std::size_t i = 0; i < count; ++i) {
    if (observer.cancelled && observer.cancelled()) break;
    std::this_thread::sleep_until(start +
                                  std::chrono::duration_cast<steady::duration>(between * static_cast<double>(i)));
    TimedChange change;
    change.made = WallClock::now();
    if (auto made = make(); !made) return std::unexpected(made.error());
    change.written = WallClock::now();
    changes.push_back(change);
  }
  return changes;
}

// The phase's latencies from the daemon's log, read again for a while if a
// change has no sync after it yet.
LatencySummary latencies_from_log(const std::string& log_path, const std::vector<TimedChange>& changes) {
  LatencySummary summary;
  for (int attempt = 0; attempt < kLogAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    summary = summarize_latencies(changes, read_log(log_path).syncs);
    if (summary.applied == summary.changes) break;
  }
  return summary;
}

// The synthetic cluster numbers its NodePorts from 30000 on, past 32767 once
// it has more than 2,768 NodePort and LoadBalancer Services (1,500 at 10,000
// Services, 15,000 at 100,000). The simulator's range is widened to hold
// them and 1,000 more, as an operator of such a cluster widens
// kube-apiserver's --service-node-port-range; otherwise every change the
// churn makes to one of those Services is refused.
apiserver_sim::Options simulator_options_for(const ClusterState& cluster) {
  constexpr int kHeadroom = 1000;
  apiserver_sim::Options options;
  int highest = 0;
  for (const auto& [id, service] : cluster.services) {
    for (const ServicePort& port : service.ports) highest = std::max(highest, port.node_port);
  }
  options.node_port_range.last = std::clamp(highest + kHeadroom, options.node_port_range.last, 65535);
  return options;
}

}  // namespace

std::string daemon_namespace_name(std::string_view namespace_prefix) {
  return std::string(namespace_prefix) + "-daemon";
}

DaemonRun run_daemon_scenario(const BenchOptions& options, BenchBackend backend, int services,
                              const DaemonSettings& settings, const DaemonObserver& observer) {
  DaemonRun run;
  run.backend = backend;
  run.services = services;
  run.endpoints = options.endpoints;
  run.load_before = load_average();
  if (backend == BenchBackend::KubeProxy) {
    run.error = "the daemon scenario runs kubenat run: iptables or nftables, not the kube-proxy baseline";
    return run;
  }
  std::error_code ec;
  fs::create_directories(settings.work_dir, ec);
  if (ec) {
    run.error = "cannot create " + settings.work_dir + ": " + ec.message();
    return run;
  }
  const std::string netns = daemon_namespace_name(settings.namespace_prefix);
  DaemonProcessOptions daemon_options;
  daemon_options.kubenat_binary = settings.kubenat_binary;
  daemon_options.backend = backend;
  daemon_options.node_name = kOwnNode;
  daemon_options.netns = netns;
  daemon_options.kubeconfig = (fs::path(settings.work_dir) / "kubeconfig").string();
  daemon_options.log_path = (fs::path(settings.work_dir) / "daemon.log").string();
  daemon_options.verbosity = 2;  // every partial sync's line: the latencies come from them
  fs::remove(daemon_options.log_path, ec);

  // Declared in the order they go: the daemon first, then the simulator,
  // then the namespace.
  std::optional<ScopedNetworkNamespace> ns;
  std::unique_ptr<ApiServerSim> sim;
  std::optional<DaemonProcess> daemon;
  auto report_phase = [&](std::string_view phase) {
    if (observer.phase) observer.phase(phase);
  };
  auto failed = [&](std::string error) {
    run.error = std::move(error);
    if (daemon) run.daemon_exit_status = daemon->stop();
    run.load_after = load_average();
    return run;
  };

  report_phase("cluster");
  const SyntheticSpec spec = synthetic_spec(options, services);
  {
    auto made = make_loopback_namespace(netns);
    if (!made) return failed(made.error());
    ns.emplace(std::move(*made));
    const ClusterState cluster = make_synthetic_cluster(spec);
    auto started = start_simulator_in(netns, simulator_options_for(cluster));
    if (!started) return failed(started.error());
    sim = std::move(*started);
    if (auto seeded = sim->seed(encode_cluster(cluster)); !seeded) {
      return failed("seeding the simulator: " + seeded.error());
    }
    if (auto written = sim->write_kubeconfig(daemon_options.kubeconfig); !written) return failed(written.error());
  }

  report_phase("start and first full sync");
  const WallClock::time_point started = WallClock::now();
  auto running = DaemonProcess::start(daemon_options);
  if (!running) return failed(running.error());
  daemon.emplace(std::move(*running));
  auto first = daemon->wait_for(settled, std::chrono::duration_cast<std::chrono::seconds>(kFirstSyncLimit),
                                "waiting for the first full sync", observer.cancelled);
  if (!first) return failed(first.error());
  if (auto cpu = read_process_cpu(daemon->pid())) run.cold_start_cpu_seconds = cpu->total();
  if (auto memory = daemon->memory()) run.after_first_sync = *memory;
  {
    const DaemonLog log = read_log(daemon_options.log_path);
    auto first_full =
        std::find_if(log.syncs.begin(), log.syncs.end(), [](const LoggedSync& s) { return s.full && s.ok; });
    if (first_full == log.syncs.end()) return failed("no successful full sync in " + daemon_options.log_path);
    run.cold_start_seconds = seconds_between(started, first_full->end);
    run.first_sync_seconds = std::chrono::duration<double>(first_full->duration).count();
    if (first_full->compile_duration) {
      run.first_sync_compile_seconds = std::chrono::duration<double>(*first_full->compile_duration).count();
    }
    if (log.watch_started) {
      run.startup_seconds = seconds_between(started, *log.watch_started);
      run.list_seconds = seconds_between(*log.watch_started, first_full->start());
    }
  }

  ClusterChurn churn(*sim, spec, kOwnNode, options.seed, kSteadyMix);
  const DaemonScenarioOptions& d = options.daemon;
  std::vector<TimedChange> steady_changes, burst_changes;

  report_phase("steady changes");
  {
    const auto warm_up =
        static_cast<std::size_t>(std::chrono::duration<double>(d.steady_warm_up).count() * d.changes_per_second);
    auto warmed = timed_changes(
        warm_up, std::chrono::duration<double>(1.0 / d.changes_per_second), [&] { return churn.change(); }, observer);
    if (!warmed) return failed(warmed.error());
    const ChurnCounts before = churn.counts();
    auto meter = PhaseMeter::start(*daemon);
    if (!meter) return failed(meter.error());
    const auto count =
        static_cast<std::size_t>(std::chrono::duration<double>(d.steady_duration).count() * d.changes_per_second);
    const auto begun = steady::now();
    std::vector<ChangeKind> kinds;
    auto made = timed_changes(
        count, std::chrono::duration<double>(1.0 / d.changes_per_second),
        [&] {
          auto kind = churn.change();
          if (kind) kinds.push_back(*kind);
          return kind;
        },
        observer);
    if (!made) return failed(made.error());
    steady_changes = std::move(*made);
    run.steady.ran = true;
    run.steady.seconds = std::chrono::duration<double>(steady::now() - begun).count();
    run.steady.changes = counts_since(before, churn.counts());
    if (auto finished = meter->finish(*daemon, run.steady, observer); !finished) return failed(finished.error());
    run.steady.latency = latencies_from_log(daemon_options.log_path, steady_changes);
    std::vector<TimedChange> endpoint_changes, service_changes;
    for (std::size_t i = 0; i < steady_changes.size() && i < kinds.size(); ++i) {
      const bool endpoints = kinds[i] == ChangeKind::EndpointAdded || kinds[i] == ChangeKind::EndpointRemoved ||
                             kinds[i] == ChangeKind::EndpointConditionsChanged;
      (endpoints ? endpoint_changes : service_changes).push_back(steady_changes[i]);
    }
    const std::vector<LoggedSync> syncs = read_log(daemon_options.log_path).syncs;
    run.steady.endpoint_latency = summarize_latencies(endpoint_changes, syncs);
    run.steady.service_latency = summarize_latencies(service_changes, syncs);
  }

  if (d.burst_services > 0 && !(observer.cancelled && observer.cancelled())) {
    report_phase("burst of new Services");
    auto meter = PhaseMeter::start(*daemon);
    if (!meter) return failed(meter.error());
    const ChurnCounts before = churn.counts();
    const auto begun = steady::now();
    auto made = timed_changes(
        static_cast<std::size_t>(d.burst_services), std::chrono::duration<double>(d.burst_window) / d.burst_services,
        [&] { return churn.add_new_service(); }, observer);
    if (!made) return failed(made.error());
    burst_changes = std::move(*made);
    run.burst.ran = true;
    run.burst.seconds = std::chrono::duration<double>(steady::now() - begun).count();
    run.burst.changes = counts_since(before, churn.counts());
    if (auto finished = meter->finish(*daemon, run.burst, observer); !finished) return failed(finished.error());
    run.burst.latency = latencies_from_log(daemon_options.log_path, burst_changes);
  }

  run.interrupted = observer.cancelled && observer.cancelled();
  run.daemon_exit_status = daemon->stop();
  run.load_after = load_average();
  return run;
}

}  // namespace kubenat::bench
