#include "tools/kubenat/bench_flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>
#include <utility>

#include "engine/daemon/duration.h"
#include "tools/kubenat/flags.h"

namespace kubenat {
namespace {

using bench::BenchBackend;
using bench::BenchOptions;
using bench::backend_from_name;


// synthetic_endpoint_ip gives each service 64 addresses in 10.0.0.0/8, so
// 2^24 / 64 services fit; the runs' added services come after the largest
// size.
constexpr int kMaxServices = 200000;
constexpr int kMaxRuns = 1000;
// One address per service is left for the endpoint a run adds.
constexpr int kMaxEndpoints = 60;
constexpr double kMaxChangesPerSecond = 10000;
// New Services in a burst come after the largest size, within the
// addresses synthetic_endpoint_ip has.
constexpr int kMaxBurstServices = 10000;

std::string quoted(std::string_view value) { return "\"" + std::string(value) + "\""; }

std::string flag_error(std::string_view flag, std::string_view expectation, std::string_view value) {
  return "kubenat bench: flag --" + std::string(flag) + ": expects " + std::string(expectation) + ", got " +
         quoted(value);
}

std::expected<int, std::string> parse_int(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::unexpected("not an integer");
  return value;
}

std::expected<double, std::string> parse_double(const std::string& text) {
  // std::from_chars for double is missing from older libstdc++ releases;
  // strtod with a full-consumption check does the same here.
  if (text.empty()) return std::unexpected("empty");
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return std::unexpected("not a number");
  return value;
}

std::expected<double, std::string> parse_share(std::string_view flag, const std::string& text) {
  auto value = parse_double(text);
  if (!value || *value < 0 || *value > 1) return std::unexpected(flag_error(flag, "a share between 0 and 1", text));
  return *value;
}

std::expected<int, std::string> parse_bounded(std::string_view flag, const std::string& text, int low, int high) {
  auto value = parse_int(text);
  if (!value || *value < low || *value > high) {
    return std::unexpected(
        flag_error(flag, "an integer from " + std::to_string(low) + " to " + std::to_string(high), text));
  }
  return *value;
}

// Flags left empty were not given: the scenario-specific ones are refused
// by the other scenario rather than silently ignored.
struct RawFlags {
  std::string scenario;
  std::vector<std::string> sizes;
  std::string endpoints = "10";
  std::vector<std::string> backends;
  std::string runs;
  std::string connections;
  std::string node_port_share = "0.1";
  std::string load_balancer_share = "0.05";
  std::string affinity_share = "0.05";
  std::string local_share = "0.05";
  std::string seed = "1";
  std::string out = "bench-results";
  bool no_dataplane = false;
  bool no_plots = false;
  std::string baseline_timeout;
  std::string services;
  std::string soak_duration;
  std::string soak_rate;
  std::string soak_sample_interval;
  std::string soak_warm_up;
  std::string daemon_rate;
  std::string daemon_duration;
  std::string daemon_burst;
  std::string daemon_burst_window;
  bool help = false;
};

FlagSet make_flags(RawFlags& raw) {
  FlagSet flags("kubenat bench");
  flags.add_string("scenario", &raw.scenario,
                   "compare (default): the backends side by side at --sizes; soak: kubenat run under continuous "
                   "changes for --soak-duration, its memory and syncs over time; daemon: kubenat run at each of "
                   "--sizes, its cold start, memory, programming latency under steady changes and a burst");
  flags.add_list("sizes", &raw.sizes, "numbers of services to measure (default 1000,10000,50000)");
  flags.add_string("endpoints", &raw.endpoints, "endpoints per service (default 10)");
  flags.add_list("backends", &raw.backends,
                 "iptables, nftables, kube-proxy, kube-proxy-nftables, floor, nat-floor (default: all six; soak: "
                 "iptables or "
                 "nftables, default nftables; "
                 "daemon: iptables or nftables, default both)");
  flags.add_string("runs", &raw.runs, "samples per figure (default 5; full syncs take at most 3)");
  flags.add_string("connections", &raw.connections, "new connections per data-plane run (default 1000)");
  flags.add_string("node-port-share", &raw.node_port_share, "share of NodePort services (default 0.1)");
  flags.add_string("load-balancer-share", &raw.load_balancer_share, "share of LoadBalancer services (default 0.05)");
  flags.add_string("affinity-share", &raw.affinity_share, "share of services with ClientIP affinity (default 0.05)");
  flags.add_string("local-share", &raw.local_share,
                   "share of services with externalTrafficPolicy Local, among NodePort and LoadBalancer ones "
                   "(default 0.05)");
  flags.add_string("seed", &raw.seed, "seed of the synthetic clusters (default 1)");
  flags.add_string("out", &raw.out, "directory for bench.json, the plots and their data (default bench-results)");
  flags.add_bool("no-dataplane", &raw.no_dataplane, "skip the new-connection measurements");
  flags.add_bool("no-plots", &raw.no_plots, "write no PNG plots");
  flags.add_string("baseline-full-sync-timeout", &raw.baseline_timeout,
                   "kill the baseline's one-call full restore after this long (default 60s)");
  flags.add_string("services", &raw.services, "soak: services in the cluster (default 10000)");
  flags.add_string("soak-duration", &raw.soak_duration, "soak: how long to make changes, e.g. 30m, 1h (default 30m)");
  flags.add_string("soak-rate", &raw.soak_rate,
                   "soak: changes per second to Services, EndpointSlices and Nodes (default 20)");
  flags.add_string("soak-sample-interval", &raw.soak_sample_interval,
                   "soak: how often to sample the daemon's memory and /metrics (default 10s)");
  flags.add_string("soak-warm-up", &raw.soak_warm_up,
                   "soak: memory drift is measured from the first sample after this (default 3m, or a quarter of "
                   "--soak-duration when that is shorter)");
  flags.add_string("daemon-rate", &raw.daemon_rate,
                   "daemon: changes per second to EndpointSlices and Services in the steady phase (default 20)");
  flags.add_string("daemon-duration", &raw.daemon_duration, "daemon: how long the steady phase lasts (default 60s)");
  flags.add_string("daemon-burst", &raw.daemon_burst,
                   "daemon: new Services created in the burst, 0 for none (default 1000)");
  flags.add_string("daemon-burst-window", &raw.daemon_burst_window,
                   "daemon: the time the burst's creations are spread over (default 1s)");
  flags.add_bool("help", &raw.help, "show this help");
  return flags;
}

std::expected<std::chrono::milliseconds, std::string> parse_positive_duration(std::string_view flag,
                                                                              const std::string& text) {
  auto value = parse_duration(text);
  if (!value || *value < std::chrono::milliseconds(1)) {
    return std::unexpected(flag_error(flag, "a positive duration such as 10s, 30m or 1h", text));
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(*value);
}

// The flags of the scenarios not chosen: an error naming the first given.
std::expected<void, std::string> refuse_other_scenario_flags(const RawFlags& raw, bench::BenchScenario scenario) {
  using enum bench::BenchScenario;
  struct ScenarioFlag {
    std::string_view flag;
    bool given;
    std::vector<bench::BenchScenario> scenarios;  // where it applies
  };
  const ScenarioFlag flags[] = {{"sizes", !raw.sizes.empty(), {Compare, Daemon}},
                                {"runs", !raw.runs.empty(), {Compare}},
                                {"connections", !raw.connections.empty(), {Compare}},
                                {"no-dataplane", raw.no_dataplane, {Compare}},
                                {"baseline-full-sync-timeout", !raw.baseline_timeout.empty(), {Compare}},
                                {"services", !raw.services.empty(), {Soak}},
                                {"soak-duration", !raw.soak_duration.empty(), {Soak}},
                                {"soak-rate", !raw.soak_rate.empty(), {Soak}},
                                {"soak-sample-interval", !raw.soak_sample_interval.empty(), {Soak}},
                                {"soak-warm-up", !raw.soak_warm_up.empty(), {Soak}},
                                {"daemon-rate", !raw.daemon_rate.empty(), {Daemon}},
                                {"daemon-duration", !raw.daemon_duration.empty(), {Daemon}},
                                {"daemon-burst", !raw.daemon_burst.empty(), {Daemon}},
                                {"daemon-burst-window", !raw.daemon_burst_window.empty(), {Daemon}}};
  for (const ScenarioFlag& f : flags) {
    if (!f.given || std::find(f.scenarios.begin(), f.scenarios.end(), scenario) != f.scenarios.end()) continue;
    std::string where;
    for (std::size_t i = 0; i < f.scenarios.size(); ++i) {
      where += (i == 0 ? "" : " or ") + std::string(bench::scenario_name(f.scenarios[i]));
    }
    return std::unexpected("kubenat bench: flag --" + std::string(f.flag) + ": applies to --scenario " + where +
                           " only" + (f.flag == "sizes" ? " (the soak takes --services)" : ""));
  }
  return {};
}

std::expected<bench::SoakOptions, std::string> validate_soak(const RawFlags& raw) {
  bench::SoakOptions soak;
  auto services = parse_bounded("services", raw.services.empty() ? "10000" : raw.services, 2, kMaxServices);
  if (!services) return std::unexpected(services.error());
  soak.services = *services;
  auto duration = parse_positive_duration("soak-duration", raw.soak_duration.empty() ? "30m" : raw.soak_duration);
  if (!duration) return std::unexpected(duration.error());
  soak.duration = *duration;
  if (!raw.soak_rate.empty()) {
    auto rate = parse_double(raw.soak_rate);
    if (!rate || *rate <= 0 || *rate > kMaxChangesPerSecond) {
      return std::unexpected(flag_error("soak-rate", "changes per second, above 0 and at most 10000", raw.soak_rate));
    }
    soak.changes_per_second = *rate;
  }
  if (!raw.soak_sample_interval.empty()) {
    auto interval = parse_positive_duration("soak-sample-interval", raw.soak_sample_interval);
    if (!interval) return std::unexpected(interval.error());
    soak.sample_interval = *interval;
  }
  soak.warm_up = std::min<std::chrono::milliseconds>(std::chrono::minutes(3), soak.duration / 4);
  if (!raw.soak_warm_up.empty()) {
    auto warm_up = parse_duration(raw.soak_warm_up);
    if (!warm_up || *warm_up < std::chrono::nanoseconds(0) || *warm_up >= soak.duration) {
      return std::unexpected(
          flag_error("soak-warm-up", "a duration from 0 to less than --soak-duration", raw.soak_warm_up));
    }
    soak.warm_up = std::chrono::duration_cast<std::chrono::milliseconds>(*warm_up);
  }
  return soak;
}

std::expected<bench::DaemonScenarioOptions, std::string> validate_daemon(const RawFlags& raw) {
  bench::DaemonScenarioOptions daemon;
  if (!raw.daemon_rate.empty()) {
    auto rate = parse_double(raw.daemon_rate);
    if (!rate || *rate <= 0 || *rate > kMaxChangesPerSecond) {
      return std::unexpected(
          flag_error("daemon-rate", "changes per second, above 0 and at most 10000", raw.daemon_rate));
    }
    daemon.changes_per_second = *rate;
  }
  if (!raw.daemon_duration.empty()) {
    auto duration = parse_positive_duration("daemon-duration", raw.daemon_duration);
    if (!duration) return std::unexpected(duration.error());
    daemon.steady_duration = *duration;
  }
  if (!raw.daemon_burst.empty()) {
    auto burst = parse_bounded("daemon-burst", raw.daemon_burst, 0, kMaxBurstServices);
    if (!burst) return std::unexpected(burst.error());
    daemon.burst_services = *burst;
  }
  if (!raw.daemon_burst_window.empty()) {
    auto window = parse_positive_duration("daemon-burst-window", raw.daemon_burst_window);
    if (!window) return std::unexpected(window.error());
    daemon.burst_window = *window;
  }
  return daemon;
}

std::expected<BenchOptions, std::string> validate(const RawFlags& raw) {
  BenchOptions options;
  options.help = raw.help;
  if (!raw.scenario.empty()) {
    const std::optional<bench::BenchScenario> scenario = bench::scenario_from_name(raw.scenario);
    if (!scenario) return std::unexpected(flag_error("scenario", "compare, soak or daemon", raw.scenario));
    options.scenario = *scenario;
  }
  if (auto refused = refuse_other_scenario_flags(raw, options.scenario); !refused) {
    return std::unexpected(refused.error());
  }
  if (options.scenario == bench::BenchScenario::Soak) {
    auto soak = validate_soak(raw);
    if (!soak) return std::unexpected(soak.error());
    options.soak = *soak;
    options.backends = {BenchBackend::Nftables};
  }
  if (options.scenario == bench::BenchScenario::Daemon) {
    auto daemon = validate_daemon(raw);
    if (!daemon) return std::unexpected(daemon.error());
    options.daemon = *daemon;
    options.backends = {BenchBackend::Iptables, BenchBackend::Nftables};
  }
  const bool runs_kubenat = options.scenario != bench::BenchScenario::Compare;
  if (!raw.sizes.empty()) {
    options.sizes.clear();
    for (const std::string& size : raw.sizes) {
      auto value = parse_bounded("sizes", size, 2, kMaxServices);
      if (!value) return std::unexpected(value.error());
      options.sizes.push_back(*value);
    }
    std::sort(options.sizes.begin(), options.sizes.end());
    options.sizes.erase(std::unique(options.sizes.begin(), options.sizes.end()), options.sizes.end());
  }
  if (!raw.backends.empty()) {
    options.backends.clear();
    for (const std::string& name : raw.backends) {
      const std::optional<BenchBackend> backend = backend_from_name(name);
      if (!backend) {
        return std::unexpected(
            flag_error("backends", "iptables, nftables, kube-proxy, kube-proxy-nftables, floor or nat-floor", name));
      }
      if (*backend != BenchBackend::Iptables && *backend != BenchBackend::Nftables && runs_kubenat) {
        const bool soak = options.scenario == bench::BenchScenario::Soak;
        return std::unexpected(flag_error(
            "backends", std::string("iptables or nftables for the ") + (soak ? "soak" : "daemon scenario") +
                            ", which runs kubenat run",
            name));
      }
      if (std::find(options.backends.begin(), options.backends.end(), *backend) == options.backends.end()) {
        options.backends.push_back(*backend);
      }
    }
  }
  auto endpoints = parse_bounded("endpoints", raw.endpoints, 1, kMaxEndpoints);
  auto runs = parse_bounded("runs", raw.runs.empty() ? "5" : raw.runs, 1, kMaxRuns);
  auto connections = parse_bounded("connections", raw.connections.empty() ? "1000" : raw.connections, 1, 1000000);
  for (const auto* result : {&endpoints, &runs, &connections}) {
    if (!*result) return std::unexpected(result->error());
  }
  options.endpoints = *endpoints;
  options.runs = *runs;
  options.connections = *connections;

  auto node_port = parse_share("node-port-share", raw.node_port_share);
  auto load_balancer = parse_share("load-balancer-share", raw.load_balancer_share);
  auto affinity = parse_share("affinity-share", raw.affinity_share);
  auto local = parse_share("local-share", raw.local_share);
  for (const auto* result : {&node_port, &load_balancer, &affinity, &local}) {
    if (!*result) return std::unexpected(result->error());
  }
  if (*node_port + *load_balancer > 1) {
    return std::unexpected("kubenat bench: flags --node-port-share and --load-balancer-share: add up to more than 1 (" +
                           raw.node_port_share + " + " + raw.load_balancer_share + ")");
  }
  options.node_port_share = *node_port;
  options.load_balancer_share = *load_balancer;
  options.affinity_share = *affinity;
  options.local_share = *local;

  std::uint64_t seed = 0;
  auto [end, ec] = std::from_chars(raw.seed.data(), raw.seed.data() + raw.seed.size(), seed);
  if (ec != std::errc() || end != raw.seed.data() + raw.seed.size()) {
    return std::unexpected(flag_error("seed", "an unsigned integer", raw.seed));
  }
  options.seed = seed;

  if (raw.out.empty()) return std::unexpected(flag_error("out", "a directory", raw.out));
  options.out_dir = raw.out;
  options.dataplane = !raw.no_dataplane;
  options.plots = !raw.no_plots;

  const std::string baseline_timeout = raw.baseline_timeout.empty() ? "60s" : raw.baseline_timeout;
  auto timeout = parse_duration(baseline_timeout);
  if (!timeout || *timeout < std::chrono::milliseconds(1)) {
    return std::unexpected(
        flag_error("baseline-full-sync-timeout", "a positive duration such as 60s or 10m", baseline_timeout));
  }
  options.baseline_full_sync_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*timeout);
  return options;
}

}  // namespace

std::expected<BenchOptions, std::string> parse_bench_flags(std::span<const std::string> args) {
  RawFlags raw;
  const FlagSet flags = make_flags(raw);
  auto positional = flags.parse(args);
  if (!positional) return std::unexpected(positional.error());
  if (!positional->empty()) return std::unexpected("kubenat bench: unexpected argument " + quoted(positional->front()));
  return validate(raw);
}

std::string bench_usage() {
  RawFlags raw;
  return make_flags(raw).usage();
}

}  // namespace kubenat
