#include "bench/soak_scenario.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/bench_cluster.h"
#include "bench/cluster_churn.h"
#include "bench/daemon_process.h"
#include "bench/kernel_rules.h"
#include "bench/simulator_namespace.h"
#include "engine/network_namespace.h"
#include "engine/process.h"
#include "rules/encode.h"
#include "tools/apiserver_sim/apiserver_sim.h"

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
constexpr auto kWatchDelivery = std::chrono::seconds(3);
constexpr int kCompareAttempts = 3;

double seconds_since(steady::time_point start) { return std::chrono::duration<double>(steady::now() - start).count(); }

double load_average() {
  std::ifstream file("/proc/loadavg");
  double one_minute = 0;
  file >> one_minute;
  return one_minute;
}

// The objects `kubenat run` reads, from one simulator into another.
std::expected<void, std::string> copy_objects(const ApiServerSim& from, ApiServerSim& to) {
  for (const char* resource : {"nodes", "services", "endpointslices"}) {
    auto list = from.list(resource);
    if (!list) return std::unexpected(std::string("list ") + resource + ": " + list.error().message);
    if (auto seeded = to.seed(*list); !seeded)
      return std::unexpected(std::string("seed ") + resource + ": " + seeded.error());
  }
  return {};
}

// The first sync is a full one, and settled() needs a successful sync.
bool first_sync_done(const DaemonCounters& c) { return c.settled(); }

void report_phase(const SoakObserver& observer, std::string_view phase) {
  if (observer.phase) observer.phase(phase);
}

std::expected<SoakSample, std::string> take_sample(DaemonProcess& daemon, double seconds, std::uint64_t changes,
                                                   const DaemonCounters& previous) {
  SoakSample sample;
  sample.seconds = seconds;
  sample.changes = changes;
  auto memory = daemon.memory();
  if (!memory) return std::unexpected(memory.error());
  sample.daemon = *memory;
  // A scrape that times out under load keeps the last counters: memory is
  // what a sample is for.
  auto counters = daemon.counters();
  sample.counters = counters ? *counters : previous;
  if (auto own = read_process_memory(static_cast<int>(::getpid()))) sample.bench_rss_mib = own->rss_mib;
  sample.load_average = load_average();
  return sample;
}

// Makes changes at the rate asked for and samples the daemon, until the
// duration is over or the bench is cancelled. Fills the samples, the
// changes and the churn time into `result`; the error ends the soak.
std::expected<void, std::string> churn(const BenchOptions& options, ApiServerSim& sim, DaemonProcess& daemon,
                                       const SyntheticSpec& spec, const SoakObserver& observer, SoakResult& result) {
  const SoakOptions& soak = options.soak;
  ClusterChurn changes(sim, spec, kOwnNode, options.seed);
  const auto start = steady::now();
  const auto end = start + soak.duration;
  const std::chrono::duration<double> between(1.0 / soak.changes_per_second);
  std::uint64_t made = 0;
  auto next_sample = start;
  DaemonCounters last_counters;
  auto sample = [&]() -> std::expected<void, std::string> {
    if (!daemon.running()) return std::unexpected("kubenat run exited; its log ends:\n" + daemon.log_tail());
    auto taken = take_sample(daemon, seconds_since(start), made, last_counters);
    if (!taken) return std::unexpected(taken.error());
    last_counters = taken->counters;
    result.samples.push_back(*taken);
    if (observer.sampled) observer.sampled(*taken);
    return {};
  };
  std::expected<void, std::string> outcome;
  for (;;) {
    const auto now = steady::now();
    if (now >= end) break;
    if (observer.cancelled && observer.cancelled()) {
      result.interrupted = true;
      break;
    }
    if (now >= next_sample) {
      if (outcome = sample(); !outcome) break;
      next_sample += soak.sample_interval;
      continue;
    }
    const auto due = start + std::chrono::duration_cast<steady::duration>(between * static_cast<double>(made));
    if (now >= due) {
      if (auto made_one = changes.change(); !made_one) {
        outcome = std::unexpected(made_one.error());
        break;
      }
      ++made;
      continue;
    }
    std::this_thread::sleep_until(std::min({due, next_sample, end, now + std::chrono::milliseconds(200)}));
  }
  result.churn_seconds = seconds_since(start);
  result.changes = changes.counts();
  if (!outcome) return outcome;
  return sample();  // the state at the end of the changes
}

// The soaked daemon's rules against the fresh one's; the soaked side is
// dumped again (after it settles once more) when they differ, in case a
// periodic resync was half-way through an iptables-restore.
FinalStateCheck compare_final_rules(DaemonProcess& soaked, const std::string& soaked_ns, const std::string& fresh_rules,
                                    BenchBackend backend, const SoakSettings& settings, const SoakObserver& observer) {
  FinalStateCheck check;
  std::string rules;
  for (check.attempts = 1; check.attempts <= kCompareAttempts; ++check.attempts) {
    if (check.attempts > 1) std::this_thread::sleep_for(std::chrono::seconds(5));
    auto settled = soaked.wait_for([](const DaemonCounters& c) { return c.settled(); },
                                   std::chrono::duration_cast<std::chrono::seconds>(kSettleLimit),
                                   "waiting for the soaked daemon to settle", observer.cancelled);
    if (!settled) {
      check.detail = settled.error();
      return check;
    }
    auto dumped = dump_kernel_rules(soaked_ns, backend);
    if (!dumped) {
      check.detail = "dumping the soaked daemon's rules: " + dumped.error();
      return check;
    }
    rules = std::move(*dumped);
    check.compared = true;
    check.lines = static_cast<std::size_t>(std::count(rules.begin(), rules.end(), '\n'));
    check.equal = rules == fresh_rules;
    if (check.equal) return check;
  }
  check.attempts = kCompareAttempts;
  const fs::path soaked_file = fs::path(settings.work_dir) / "rules-soaked.txt";
  const fs::path fresh_file = fs::path(settings.work_dir) / "rules-fresh.txt";
  std::ofstream(soaked_file) << rules;
  std::ofstream(fresh_file) << fresh_rules;
  const RulesDifference difference = compare_rules(rules, fresh_rules);
  if (difference.empty()) {
    check.detail = "the same lines in another order";
  } else {
    check.detail = std::to_string(difference.only_in_first) + " lines only in the soaked daemon's rules, " +
                   std::to_string(difference.only_in_second) + " only in the fresh one's";
    if (!difference.first_examples.empty())
      check.detail += "; soaked only: \"" + difference.first_examples.front() + "\"";
    if (!difference.second_examples.empty())
      check.detail += "; fresh only: \"" + difference.second_examples.front() + "\"";
  }
  check.detail += " (both in " + soaked_file.string() + " and " + fresh_file.string() + ")";
  return check;
}

}  // namespace

std::vector<std::string> soak_namespace_names(std::string_view namespace_prefix) {
  return {std::string(namespace_prefix) + "-soak", std::string(namespace_prefix) + "-fresh"};
}

SoakResult run_soak(const BenchOptions& options, BenchBackend backend, const SoakSettings& settings,
                    const SoakObserver& observer) {
  SoakResult result;
  result.backend = backend;
  result.services = options.soak.services;
  result.endpoints = options.endpoints;
  result.changes_per_second = options.soak.changes_per_second;
  result.duration = options.soak.duration;
  if (backend == BenchBackend::KubeProxy) {
    result.error = "the soak runs kubenat run: iptables or nftables, not the kube-proxy baseline";
    return result;
  }
  std::error_code ec;
  fs::create_directories(settings.work_dir, ec);
  if (ec) {
    result.error = "cannot create " + settings.work_dir + ": " + ec.message();
    return result;
  }
  const std::vector<std::string> names = soak_namespace_names(settings.namespace_prefix);
  DaemonProcessOptions daemon_options;
  daemon_options.kubenat_binary = settings.kubenat_binary;
  daemon_options.backend = backend;
  daemon_options.node_name = kOwnNode;

  // Declared in the order they go: daemons first, then simulators, then
  // namespaces (a namespace whose processes are gone is deleted whole).
  std::optional<ScopedNetworkNamespace> soak_ns, fresh_ns;
  std::unique_ptr<ApiServerSim> sim, fresh_sim;
  std::optional<DaemonProcess> daemon, fresh_daemon;
  auto failed = [&](std::string error) {
    result.error = std::move(error);
    if (daemon) result.daemon_exit_status = daemon->stop();
    return result;
  };

  report_phase(observer, "cluster");
  const SyntheticSpec spec = synthetic_spec(options, options.soak.services);
  {
    auto made = make_loopback_namespace(names[0]);
    if (!made) return failed(made.error());
    soak_ns.emplace(std::move(*made));
    auto started = start_simulator_in(names[0]);
    if (!started) return failed(started.error());
    sim = std::move(*started);
    if (auto seeded = sim->seed(encode_cluster(make_synthetic_cluster(spec))); !seeded) {
      return failed("seeding the simulator: " + seeded.error());
    }
    const std::string kubeconfig = (fs::path(settings.work_dir) / "kubeconfig").string();
    if (auto written = sim->write_kubeconfig(kubeconfig); !written) return failed(written.error());
    daemon_options.netns = names[0];
    daemon_options.kubeconfig = kubeconfig;
    daemon_options.log_path = (fs::path(settings.work_dir) / "daemon.log").string();
  }

  report_phase(observer, "list and first full sync");
  const auto started = steady::now();
  auto running = DaemonProcess::start(daemon_options);
  if (!running) return failed(running.error());
  daemon.emplace(std::move(*running));
  auto first = daemon->wait_for(first_sync_done, std::chrono::duration_cast<std::chrono::seconds>(kFirstSyncLimit),
                                "waiting for the first full sync", observer.cancelled);
  if (!first) return failed(first.error());
  result.first_sync_seconds = seconds_since(started);

  report_phase(observer, "changes");
  if (auto churned = churn(options, *sim, *daemon, spec, observer, result); !churned) return failed(churned.error());

  if (result.interrupted) {
    // No waiting any more: the counters as they are, no final comparison.
    if (auto counters = daemon->counters()) result.final_counters = *counters;
    result.final_state.detail = "interrupted";
    result.daemon_exit_status = daemon->stop();
    return result;
  }

  report_phase(observer, "applying the last changes");
  std::this_thread::sleep_for(kWatchDelivery);
  auto settled = daemon->wait_for([](const DaemonCounters& c) { return c.settled(); },
                                  std::chrono::duration_cast<std::chrono::seconds>(kSettleLimit),
                                  "waiting for the last changes to be applied", observer.cancelled);
  if (!settled) return failed(settled.error());
  result.final_counters = *settled;

  report_phase(observer, "a fresh daemon for the final objects");
  {
    auto made = make_loopback_namespace(names[1]);
    if (!made) return failed(made.error());
    fresh_ns.emplace(std::move(*made));
    auto started_sim = start_simulator_in(names[1]);
    if (!started_sim) return failed(started_sim.error());
    fresh_sim = std::move(*started_sim);
    if (auto copied = copy_objects(*sim, *fresh_sim); !copied)
      return failed("copying the final objects: " + copied.error());
    DaemonProcessOptions fresh_options = daemon_options;
    fresh_options.netns = names[1];
    fresh_options.kubeconfig = (fs::path(settings.work_dir) / "fresh-kubeconfig").string();
    fresh_options.log_path = (fs::path(settings.work_dir) / "fresh-daemon.log").string();
    if (auto written = fresh_sim->write_kubeconfig(fresh_options.kubeconfig); !written) return failed(written.error());
    const auto fresh_started = steady::now();
    auto fresh = DaemonProcess::start(fresh_options);
    if (!fresh) return failed("the fresh daemon: " + fresh.error());
    fresh_daemon.emplace(std::move(*fresh));
    auto synced = fresh_daemon->wait_for(first_sync_done,
                                         std::chrono::duration_cast<std::chrono::seconds>(kFirstSyncLimit),
                                         "waiting for the fresh daemon's first full sync", observer.cancelled);
    if (!synced) return failed(synced.error());
    result.fresh_sync_seconds = seconds_since(fresh_started);
  }

  report_phase(observer, "comparing the rules");
  auto fresh_rules = dump_kernel_rules(names[1], backend);
  if (!fresh_rules) return failed("dumping the fresh daemon's rules: " + fresh_rules.error());
  result.final_state = compare_final_rules(*daemon, names[0], *fresh_rules, backend, settings, observer);
  fresh_daemon->stop();
  result.daemon_exit_status = daemon->stop();
  return result;
}

}  // namespace kubenat::bench
