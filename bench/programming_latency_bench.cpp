// Network programming latency: from a change on the API server to the rule
// in the kernel, with the daemon's own pieces (watch, sync loop, iptables
// backend) against the API server simulator, at a large cluster size.
//
// build/bench/kubenat_latency_bench [--services N] [--endpoints E] [--changes K]
//                                   [--min-sync-period-ms M]
// Root needed: the rules go into a network namespace of its own.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "bench/synthetic_cluster.h"
#include "engine/daemon/proxy_stack.h"
#include "engine/network_namespace.h"
#include "engine/process.h"
#include "engine/sync_loop.h"
#include "rules/encode.h"
#include "tools/apiserver_sim/apiserver_sim.h"
#include "watch/cluster_watcher.h"

namespace kubenat::bench {
namespace {

using steady = std::chrono::steady_clock;

// Waits for the sync that carries a given Service.
class Waiter final : public SyncObserver {
 public:
  void sync_done(const SyncReport& report) override {
    std::lock_guard lock(mu_);
    ++syncs_;
    last_full_ = report.result.full;
    if (report.all_services) all_done_ = steady::now();
    for (const ObjectName& name : report.changed_services) done_[name] = steady::now();
    cv_.notify_all();
  }
  std::optional<steady::time_point> wait_for(const ObjectName& service, steady::time_point after,
                                             std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    const auto done = [&]() -> std::optional<steady::time_point> {
      auto it = done_.find(service);
      if (it != done_.end() && it->second >= after) return it->second;
      if (all_done_ >= after) return all_done_;
      return std::nullopt;
    };
    if (!cv_.wait_for(lock, limit, [&] { return done().has_value(); })) return std::nullopt;
    return done();
  }
  bool wait_first_sync(std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return syncs_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<ObjectName, steady::time_point> done_;
  steady::time_point all_done_;  // the last sync that looked at every Service
  int syncs_ = 0;
  bool last_full_ = false;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const std::size_t index = std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())));
  return v[index];
}

int run(int argc, char** argv) {
  int services = 10000, endpoints = 10, changes = 100, min_sync_ms = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::stoi(argv[i + 1]);
    if (flag == "--services") services = value;
    else if (flag == "--endpoints") endpoints = value;
    else if (flag == "--changes") changes = value;
    else if (flag == "--min-sync-period-ms") min_sync_ms = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto ns = ScopedNetworkNamespace::create("kn-latency-" + std::to_string(::getpid()));
  if (!ns) {
    std::fprintf(stderr, "cannot create a network namespace (root needed): %s\n", ns.error().c_str());
    return 1;
  }
  const std::string netns = ns->name();

  auto sim = apiserver_sim::ApiServerSim::start(apiserver_sim::Options{});
  if (!sim) {
    std::fprintf(stderr, "simulator: %s\n", sim.error().c_str());
    return 1;
  }
  ClusterState state = make_synthetic_cluster({.services = services, .endpoints_per_service = endpoints});
  if (auto seeded = (*sim)->seed(encode_cluster(state)); !seeded) {
    std::fprintf(stderr, "seed: %s\n", seeded.error().c_str());
    return 1;
  }

  ProxyConfig config;
  config.node_name = "node-0";
  config.cluster_cidrs = {*Cidr::parse("10.0.0.0/8")};
  SteadyClock clock;
  ProxyStackOptions options;
  options.config = config;
  options.iptables_mode = IptablesMode::Nft;
  options.conntrack_cleanup = false;
  options.netns = netns;
  auto stack = ProxyStack::build(options, clock);
  if (!stack) {
    std::fprintf(stderr, "%s\n", stack.error().c_str());
    return 1;
  }
  Waiter waiter;
  SyncLoop loop((*stack)->service_proxier(), clock,
                SyncLoop::Options{std::chrono::milliseconds(min_sync_ms), std::chrono::seconds(30),
                                  {WatchedResource::Services, WatchedResource::EndpointSlices}, "node-0"},
                &waiter);
  ApiServerConfig api;
  api.server = (*sim)->url();
  auto watcher = ClusterWatcher::start(api, loop, ClusterWatcherOptions{});
  if (!watcher) {
    std::fprintf(stderr, "watch: %s\n", watcher.error().c_str());
    return 1;
  }
  std::thread loop_thread([&] { loop.run(); });
  const auto start = steady::now();
  if (!waiter.wait_first_sync(std::chrono::seconds(300))) {
    std::fprintf(stderr, "no first sync\n");
    return 1;
  }
  std::printf("%d services x %d endpoints, iptables-nft, min-sync-period %d ms\n", services, endpoints, min_sync_ms);
  std::printf("list + first full sync: %.1f s\n", std::chrono::duration<double>(steady::now() - start).count());

  std::mt19937 rng(42);
  std::vector<double> latencies;
  for (int k = 0; k < changes; ++k) {
    // Changes arrive at random moments relative to the sync rhythm.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1500)(rng)));
    const int i = std::uniform_int_distribution<int>(0, services - 1)(rng);
    const ObjectName id{"ns" + std::to_string(i % 50), "svc" + std::to_string(i)};
    auto slice = (*sim)->get("endpointslices", id.namespace_, id.name + "-abcde");
    if (!slice) {
      std::fprintf(stderr, "get slice %s: %s\n", id.to_string().c_str(), slice.error().message.c_str());
      return 1;
    }
    (*slice)["endpoints"].push_back({{"addresses", {synthetic_endpoint_ip(i, endpoints + k % 40)}},
                                     {"conditions", {{"ready", true}}},
                                     {"nodeName", "node-1"}});
    const auto changed = steady::now();
    if (auto replaced = (*sim)->replace(*slice); !replaced) {
      std::fprintf(stderr, "replace: %s\n", replaced.error().message.c_str());
      return 1;
    }
    auto done = waiter.wait_for(id, changed, std::chrono::seconds(30));
    if (!done) {
      std::fprintf(stderr, "change %d not applied within 30 s\n", k);
      return 1;
    }
    latencies.push_back(std::chrono::duration<double, std::milli>(*done - changed).count());
  }
  loop.stop();
  loop_thread.join();
  (*watcher)->stop();

  std::printf("change on the API server -> rules in the kernel, %d changes:\n", changes);
  std::printf("  p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, min %.0f ms, max %.0f ms\n", percentile(latencies, 0.5),
              percentile(latencies, 0.9), percentile(latencies, 0.99), percentile(latencies, 0.0),
              percentile(latencies, 1.0));
  return 0;
}

}  // namespace
}  // namespace kubenat::bench

int main(int argc, char** argv) { return kubenat::bench::run(argc, argv); }
