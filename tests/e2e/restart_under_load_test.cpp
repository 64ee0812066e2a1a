// `kubenat run` restarted while clients keep opening new connections to
// several Services: killed (SIGKILL: a crash, the OOM killer) or stopped
// (SIGTERM: a rollout) and started again on the same node, with each
// backend. No connection may fail: the rules stay in the kernel while no
// daemon runs, and the new daemon adopts them (no flush, no moment without
// them) until its first full sync replaces them. What that sync leaves is
// exactly what the first daemon's fresh start wrote.
//
// Every connection of the load is new (tests/e2e/connection_load.h), so each
// one is translated by the rules in the kernel at that moment, not carried
// by an earlier conntrack entry.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/connection_load.h"
#include "tests/e2e/daemon.h"
#include "tests/e2e/proxy_driver.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;

constexpr int kNodePort = 30070;
constexpr const char* kFirstSync = "full sync (first sync)";

// Where the load goes: two ClusterIP Services, and a NodePort Service
// through its cluster IP and the node's address.
struct Scenario {
  std::string name;
  std::string cluster_ip;
  std::vector<int> pods;
  int node_port = 0;
};
const std::vector<Scenario>& services() {
  static const std::vector<Scenario> all = {
      {"web", "10.96.0.70", {0, 1}},
      {"api", "10.96.0.71", {2, 3}},
      {"edge", "10.96.0.72", {1, 2}, kNodePort},
  };
  return all;
}

class RestartUnderLoad : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_DAEMON_WORLD();
    auto d = DaemonWorld::create(4, DaemonOptions{.start = false});
    ASSERT_TRUE(d) << d.error();
    d_ = std::move(*d);
    // The Services exist before the first daemon starts, so its rules are
    // those of a fresh start: one full sync of the whole state.
    for (const Scenario& service : services()) {
      const std::string type = service.node_port != 0 ? "NodePort" : "ClusterIP";
      ASSERT_TRUE(d_->kubectl_apply(service_manifest(service.name, service.cluster_ip, type, service.node_port)));
      std::vector<std::string> ips;
      for (int pod : service.pods) ips.push_back(d_->world().pod_ip(pod));
      ASSERT_TRUE(d_->kubectl_apply(slice_manifest(service.name, ips)));
    }
    ASSERT_TRUE(d_->start_daemon_with({"--proxy-mode", GetParam()}));
    ASSERT_TRUE(wait_until([&] { return first_syncs() == 1; }, 10s)) << d_->daemon_log();
    for (const LoadTarget& target : targets()) {
      ASSERT_TRUE(wait_until([&] { return answers(target); }, 10s)) << target.to_string() << " does not answer";
    }
  }
  void TearDown() override {
    if (d_ && HasFailure()) std::cerr << "kubenat run's log:\n" << d_->daemon_log();
  }

  std::vector<LoadTarget> targets() const {
    std::vector<LoadTarget> out;
    for (const Scenario& service : services()) {
      std::set<std::string> names;
      for (int pod : service.pods) names.insert(d_->world().pod_name(pod));
      out.push_back({service.cluster_ip, 80, names});
      if (service.node_port != 0) out.push_back({NetnsWorld::kNodeIp, service.node_port, names});
    }
    return out;
  }
  bool answers(const LoadTarget& target) {
    auto result = d_->world().tcp(d_->world().client_ns(), target.ip, target.port, {.count = 1, .timeout_ms = 500});
    return result && result->answered() == 1;
  }
  // How many daemons have made their first sync (the log goes on across
  // restarts).
  int first_syncs() const {
    const std::string log = d_->daemon_log();
    int count = 0;
    for (std::size_t at = log.find(kFirstSync); at != std::string::npos; at = log.find(kFirstSync, at + 1)) ++count;
    return count;
  }
  // Every rule kubenat may own on the node: the iptables tables and the
  // nftables table, each normalized; "(no table)" for a table that is not
  // there. `nft -s`: without counters and other state the packets change.
  std::string node_rules() {
    auto iptables = d_->node_rules();
    auto nft = d_->world().exec(d_->world().node_ns(), {"nft", "-s", "list", "table", "ip", "kubenat"});
    const std::string table = nft && nft->ok() ? normalize_nft_listing(nft->out) : "(no table)\n";
    return "iptables:\n" + (iptables ? *iptables : "error: " + iptables.error()) + "nftables:\n" + table;
  }

  // Starts the load, ends the daemon with `signal` once connections flow,
  // starts it again, and keeps the load going until a few seconds after the
  // new daemon's first full sync.
  void restart_under_load(int signal) {
    const std::string fresh_start = node_rules();
    auto load = ConnectionLoad::start(d_->world().client_ns(), {.targets = targets(), .connections_per_second = 300});
    ASSERT_TRUE(load) << load.error();
    ASSERT_TRUE(wait_until([&] { return (*load)->report().succeeded >= 300; }, 20s)) << (*load)->report();

    auto status = d_->stop_daemon(signal);
    ASSERT_TRUE(status) << status.error();
    EXPECT_EQ(*status, signal == SIGKILL ? 128 + SIGKILL : 0) << "exit status";
    const int at_stop = (*load)->report().succeeded;
    // A while without any daemon: the rules in the kernel serve alone.
    std::this_thread::sleep_for(1s);
    auto started = d_->start_daemon();
    ASSERT_TRUE(started) << started.error();
    ASSERT_TRUE(wait_until([&] { return first_syncs() == 2; }, 20s)) << "no first sync after the restart";
    const int at_first_sync = (*load)->report().succeeded;
    const std::string after_restart = node_rules();
    std::this_thread::sleep_for(2s);
    const LoadReport report = (*load)->stop();

    EXPECT_TRUE(report.failures.empty()) << report;
    EXPECT_GT(report.succeeded, 500) << report;
    EXPECT_GT(at_first_sync - at_stop, 100)
        << "the load went on while no daemon ran and while the new one started; " << report;
    EXPECT_GT(report.succeeded - at_first_sync, 100) << "the load went on after the first sync; " << report;
    for (const LoadTarget& target : targets()) {
      EXPECT_GT(report.by_target.count(target.to_string()), 0u) << target.to_string() << " never answered; " << report;
    }
    EXPECT_EQ(report.by_answer.size(), 4u) << "every pod answered; " << report;
    EXPECT_EQ(after_restart, fresh_start) << "the restarted daemon's first full sync left other rules";
    EXPECT_EQ(node_rules(), fresh_start);
    EXPECT_TRUE(d_->daemon_running());
  }

  std::unique_ptr<DaemonWorld> d_;
};

TEST_P(RestartUnderLoad, SigkillAndStartLosesNoConnectionAndRewritesTheSameRules) { restart_under_load(SIGKILL); }

TEST_P(RestartUnderLoad, SigtermAndStartLosesNoConnectionAndRewritesTheSameRules) {
  restart_under_load(SIGTERM);
  EXPECT_NE(d_->daemon_log().find("received SIGTERM, stopping; rules stay"), std::string::npos) << d_->daemon_log();
}

INSTANTIATE_TEST_SUITE_P(Backends, RestartUnderLoad, ::testing::Values("iptables", "nftables"),
                         [](const ::testing::TestParamInfo<const char*>& param) { return std::string(param.param); });

}  // namespace
}  // namespace kubenat::e2e
