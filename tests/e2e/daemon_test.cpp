// `kubenat run` end to end: kubectl changes the cluster on the API server
// simulator, the daemon in the node namespace programs the kernel, and real
// connections from outside the node show the result. The faults are the
// simulator's: dropped watches, a restart with a new history (410 Gone),
// garbage on the stream, and an unreachable server.

#include "tests/e2e/daemon.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <thread>

#include "engine/process.h"
#include "rules/rfc3339.h"
#include "tests/e2e/proxy_driver.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Polls `done` every 50 ms; the time it took, or nullopt after `limit`.
std::optional<steady::duration> wait_until(const std::function<bool()>& done, steady::duration limit) {
  const auto start = steady::now();
  while (steady::now() - start < limit) {
    if (done()) return steady::now() - start;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

// NetnsWorld turns route_localnet on for the rule tests; the daemon must do
// it itself.
constexpr const char* kRouteLocalnetOff = "sysctl -qw net.ipv4.conf.all.route_localnet=0 && ";

std::vector<std::string> pod_ips(NetnsWorld& world, std::vector<int> pods) {
  std::vector<std::string> out;
  for (int pod : pods) out.push_back(world.pod_ip(pod));
  return out;
}

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_DAEMON_WORLD();
    auto d = DaemonWorld::create(4, options());
    ASSERT_TRUE(d) << d.error();
    d_ = std::move(*d);
  }
  void TearDown() override {
    if (d_ && HasFailure()) std::cerr << "kubenat run's log:\n" << d_->daemon_log();
  }
  virtual DaemonOptions options() { return {}; }

  ProbeResult probe(const std::string& ip, int count = 1, int timeout_ms = 300) {
    auto result = d_->world().tcp(d_->world().client_ns(), ip, 80, ProbeOptions{.count = count, .timeout_ms = timeout_ms});
    return result.value_or(ProbeResult{});
  }
  bool reachable(const std::string& ip) { return probe(ip).answered() == 1; }
  // The node's iptables rules once the first sync wrote them.
  std::string synced_rules() {
    std::string rules;
    wait_until(
        [&] {
          rules = d_->node_rules().value_or("");
          return rules.find("-A KUBE-FORWARD") != std::string::npos;
        },
        2s);
    return rules;
  }
  // A sysctl's value in the node namespace, or -1.
  long node_sysctl(const std::string& name) {
    auto text = d_->world().exec_checked(d_->world().node_ns(), {"sysctl", "-n", name});
    return text ? std::stol(*text) : -1;
  }
  void create_web(const std::string& name, const std::string& ip, std::vector<int> pods) {
    ASSERT_TRUE(d_->kubectl_apply(service_manifest(name, ip)));
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest(name, pod_ips(d_->world(), std::move(pods)))));
  }

  // A load balancer's probe of this node's health-check port `port`.
  HealthProbe probe_health_port(int port) {
    return probe_health(d_->world(), d_->world().client_ns(), NetnsWorld::kNodeIp, port);
  }

  // The health-check node port answers 200 while the Service's endpoint is
  // on this node, 503 within a sync of it moving away, 200 again when it
  // returns, and closes with the Service.
  void check_health_check_follows_the_endpoint() {
    ASSERT_TRUE(d_->kubectl_apply(local_load_balancer_manifest("lb", "10.96.0.60", 30060, 32060)));
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb", pod_ips(d_->world(), {0}))));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32060).status == 200; }, 2s)) << d_->daemon_log();
    HealthProbe here = probe_health_port(32060);
    EXPECT_NE(here.headers.find("X-Load-Balancing-Endpoint-Weight: 1\r\n"), std::string::npos) << here.headers;
    EXPECT_NE(here.headers.find("Content-Type: application/json\r\n"), std::string::npos) << here.headers;
    EXPECT_NE(here.body.find("\"localEndpoints\": 1"), std::string::npos) << here.body;
    EXPECT_NE(here.body.find("\"name\": \"lb\""), std::string::npos) << here.body;
    EXPECT_NE(here.body.find("\"serviceProxyHealthy\": true"), std::string::npos) << here.body;

    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb", pod_ips(d_->world(), {0}), "other-node")));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32060).status == 503; }, 2s));
    EXPECT_NE(probe_health_port(32060).body.find("\"localEndpoints\": 0"), std::string::npos);
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb", pod_ips(d_->world(), {0}))));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32060).status == 200; }, 2s));

    ASSERT_TRUE(d_->kubectl({"delete", "service", "lb"}));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32060).status == 0; }, 2s)) << "the port stays open";
  }

  // A Service whose port is taken by another program is reported and
  // retried; the other Service's port is not affected, then or after.
  void check_health_checks_do_not_break_each_other() {
    ASSERT_TRUE(d_->world().start_echo(d_->world().node_ns(), "squatter", 32062));
    ASSERT_TRUE(d_->kubectl_apply(local_load_balancer_manifest("lb-a", "10.96.0.61", 30061, 32061)));
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb-a", pod_ips(d_->world(), {0}))));
    ASSERT_TRUE(d_->kubectl_apply(local_load_balancer_manifest("lb-b", "10.96.0.62", 30062, 32062)));
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb-b", pod_ips(d_->world(), {1}))));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32061).status == 200; }, 2s));
    ASSERT_TRUE(wait_until([&] { return d_->daemon_log().find("FailedToStartServiceHealthcheck Service default/lb-b") !=
                                        std::string::npos; },
                           2s))
        << d_->daemon_log();
    auto failures = d_->metric("kubenat_service_health_check_bind_failures_total");
    ASSERT_TRUE(failures) << failures.error();
    EXPECT_GE(*failures, 1);

    // Freed: the next sync (here: lb-b's endpoints change) opens it.
    d_->world().stop_echo(d_->world().node_ns(), 32062);
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("lb-b", pod_ips(d_->world(), {1, 2}))));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32062).status == 200; }, 2s)) << d_->daemon_log();
    EXPECT_NE(probe_health_port(32062).body.find("\"localEndpoints\": 2"), std::string::npos);
    EXPECT_EQ(probe_health_port(32061).status, 200);

    ASSERT_TRUE(d_->kubectl({"delete", "service", "lb-b"}));
    ASSERT_TRUE(wait_until([&] { return probe_health_port(32062).status == 0; }, 2s));
    EXPECT_EQ(probe_health_port(32061).status, 200) << "deleting one Service closes its port alone";
  }

  std::unique_ptr<DaemonWorld> d_;
};

TEST_F(DaemonTest, ServiceCreatedWithKubectlIsReachableWithinTwoSeconds) {
  create_web("web", "10.96.0.50", {0, 1, 2, 3});
  auto took = wait_until([&] { return reachable("10.96.0.50"); }, 2s);
  ASSERT_TRUE(took) << "not reachable within 2 s";
  ProbeResult result = probe("10.96.0.50", 100, 1000);
  EXPECT_EQ(result.answered(), 100) << result;
  EXPECT_EQ(result.answers.size(), 4u) << result;
}

TEST_F(DaemonTest, ScalingTheSliceMovesTraffic) {
  create_web("web", "10.96.0.50", {0, 1});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->kubectl_apply(slice_manifest("web", pod_ips(d_->world(), {2, 3}))));
  auto moved = wait_until(
      [&] {
        ProbeResult r = probe("10.96.0.50", 40, 1000);
        return r.answered() == 40 && r.answers.count("pod-0") == 0 && r.answers.count("pod-1") == 0;
      },
      2s);
  EXPECT_TRUE(moved) << probe("10.96.0.50", 40, 1000);
}

TEST_F(DaemonTest, DeletingTheServiceRemovesItsChains) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->kubectl({"delete", "service", "web", "-n", "default"}));
  auto gone = wait_until(
      [&] {
        auto rules = d_->node_rules();
        return rules && rules->find("default/web:http") == std::string::npos;
      },
      2s);
  EXPECT_TRUE(gone) << d_->node_rules().value_or("");
}

TEST_F(DaemonTest, HealthzServesKubeProxysFieldsAndMetricsCountSyncs) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  auto health = d_->http(DaemonWorld::kHealthzPort, "/healthz");
  ASSERT_TRUE(health) << health.error();
  EXPECT_NE(health->find("\"lastUpdated\""), std::string::npos) << *health;
  EXPECT_NE(health->find("\"currentTime\""), std::string::npos) << *health;
  auto syncs = d_->metric("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}");
  ASSERT_TRUE(syncs) << syncs.error();
  EXPECT_GE(*syncs, 1);
}

TEST_F(DaemonTest, HealthCheckNodePortFollowsTheLocalEndpoint) { check_health_check_follows_the_endpoint(); }

TEST_F(DaemonTest, HealthCheckNodePortsOfTwoServicesDoNotBreakEachOther) {
  check_health_checks_do_not_break_each_other();
}

TEST_F(DaemonTest, HealthzDrainsTheNodeWhileItIsTaintedForRemoval) {
  ASSERT_TRUE(d_->kubectl_apply(node_manifest(DaemonWorld::kNodeName, NetnsWorld::kNodeIp)));
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  const auto healthz = [&] { return d_->get(DaemonWorld::kHealthzPort, "/healthz").value_or(DaemonWorld::Answer{}); };
  ASSERT_EQ(healthz().status, 200) << healthz().body;
  EXPECT_NE(healthz().body.find("\"nodeEligible\":true"), std::string::npos) << healthz().body;

  ASSERT_TRUE(
      d_->kubectl({"taint", "nodes", DaemonWorld::kNodeName, "ToBeDeletedByClusterAutoscaler=1733300000:NoSchedule"}));
  ASSERT_TRUE(wait_until([&] { return healthz().status == 503; }, 2s)) << healthz().body;
  EXPECT_NE(healthz().body.find("\"nodeEligible\":false"), std::string::npos) << healthz().body;
  auto livez = d_->get(DaemonWorld::kHealthzPort, "/livez");
  ASSERT_TRUE(livez);
  EXPECT_EQ(livez->status, 200) << livez->body;
  EXPECT_TRUE(reachable("10.96.0.50")) << "draining changes no rule";

  ASSERT_TRUE(d_->kubectl({"taint", "nodes", DaemonWorld::kNodeName, "ToBeDeletedByClusterAutoscaler-"}));
  ASSERT_TRUE(wait_until([&] { return healthz().status == 200; }, 2s)) << healthz().body;
  auto count = d_->metric("kubeproxy_proxy_healthz_total{code=\"503\"}");
  ASSERT_TRUE(count) << count.error();
  EXPECT_GE(*count, 1);
}

TEST_F(DaemonTest, ExposesKubeProxysMetricsWithTheirMeaning) {
  ASSERT_TRUE(d_->kubectl_apply(service_manifest("web", "10.96.0.50")));
  ASSERT_TRUE(d_->kubectl_apply(slice_manifest("web", pod_ips(d_->world(), {0}))));
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  // A stamp a second old must still be after the daemon's start (changes
  // stamped before it belong to the initial sync and count for no latency);
  // syncs spaced by their cost may have made the service reachable sooner.
  std::this_thread::sleep_for(1200ms);
  const std::string stamp = format_rfc3339_nano(std::chrono::system_clock::now() - 1s);
  std::string slice = slice_manifest("web", pod_ips(d_->world(), {0, 1}));
  slice.replace(slice.find("  labels:"), 0,
                "  annotations:\n    endpoints.kubernetes.io/last-change-trigger-time: \"" + stamp + "\"\n");
  ASSERT_TRUE(d_->kubectl_apply(slice));
  const auto metric = [&](const std::string& series) { return d_->metric(series).value_or(-1); };
  ASSERT_TRUE(wait_until(
      [&] { return metric("kubeproxy_network_programming_duration_seconds_count{ip_family=\"IPv4\"}") >= 1; }, 2s));
  const double latency = metric("kubeproxy_network_programming_duration_seconds_sum{ip_family=\"IPv4\"}");
  EXPECT_GE(latency, 1.0) << "measured from the stamp, a second before the change arrived";
  EXPECT_LT(latency, 5.0);
  EXPECT_GE(metric("kubenat_network_programming_arrival_duration_seconds_count"), 1);

  EXPECT_GE(metric("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}"), 1);
  EXPECT_GT(metric("kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family=\"IPv4\"}"), 0);
  EXPECT_GT(metric("kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\",ip_family=\"IPv4\"}"), 10);
  EXPECT_GT(metric("kubeproxy_sync_proxy_rules_iptables_total{table=\"filter\",ip_family=\"IPv4\"}"), 0);
  EXPECT_GE(metric("kubeproxy_sync_proxy_rules_iptables_last{table=\"nat\",ip_family=\"IPv4\"}"), 1);
  EXPECT_GE(metric("kubeproxy_conntrack_reconciler_sync_duration_seconds_count{ip_family=\"IPv4\"}"), 1);
  EXPECT_EQ(metric("kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family=\"IPv4\"}"), 0);

  // internalTrafficPolicy Local with its only endpoint on another node.
  std::string local_only = service_manifest("api", "10.96.0.51");
  local_only.replace(local_only.find("  ports:"), 0, "  internalTrafficPolicy: Local\n");
  ASSERT_TRUE(d_->kubectl_apply(local_only));
  ASSERT_TRUE(d_->kubectl_apply(slice_manifest("api", pod_ips(d_->world(), {1}), "other-node")));
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(
                   "kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\",ip_family="
                   "\"IPv4\"}") == 1;
      },
      2s));
}

TEST_F(DaemonTest, MetricsAddressServesTheModeTheConfigurationAndHealthz) {
  auto mode = d_->get(DaemonWorld::kMetricsPort, "/proxyMode");
  ASSERT_TRUE(mode) << mode.error();
  EXPECT_EQ(mode->status, 200);
  EXPECT_EQ(mode->body, "iptables");
  auto configz = d_->get(DaemonWorld::kMetricsPort, "/configz");
  ASSERT_TRUE(configz) << configz.error();
  EXPECT_EQ(configz->status, 200);
  EXPECT_NE(configz->body.find("\"kubeproxy.config.k8s.io\":{"), std::string::npos) << configz->body;
  EXPECT_NE(configz->body.find("\"hostnameOverride\":\"test-node\""), std::string::npos) << configz->body;
  EXPECT_NE(configz->body.find("\"clusterCIDR\":\"" + std::string(NetnsWorld::kPodCidr) + "\""), std::string::npos)
      << configz->body;
  auto healthz = d_->get(DaemonWorld::kMetricsPort, "/healthz");
  ASSERT_TRUE(healthz) << healthz.error();
  EXPECT_EQ(healthz->status, 200);
  EXPECT_EQ(healthz->body, "ok");
}

TEST_F(DaemonTest, DroppedWatchesAreResumed) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->fault(R"({"drop_watches": true})"));
  create_web("api", "10.96.0.51", {1});
  EXPECT_TRUE(wait_until([&] { return reachable("10.96.0.51"); }, 3s)) << "change after the drop not applied";
  EXPECT_TRUE(d_->daemon_running());
  EXPECT_GE(d_->metric("kubenat_watch_reconnects_total{resource=\"services\"}").value_or(0), 1);
}

TEST_F(DaemonTest, RestartWithANewHistoryIsListedAgain) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->fault(R"({"restart": {"jump": 1000000}})"));
  create_web("api", "10.96.0.51", {1});
  EXPECT_TRUE(wait_until([&] { return reachable("10.96.0.51"); }, 5s)) << "change after the restart not applied";
  EXPECT_TRUE(reachable("10.96.0.50"));
  EXPECT_TRUE(d_->daemon_running());
}

TEST_F(DaemonTest, GarbageOnTheWatchIsSkipped) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->fault(R"({"garbage": {"close": false}})"));
  create_web("api", "10.96.0.51", {1});
  EXPECT_TRUE(wait_until([&] { return reachable("10.96.0.51"); }, 5s)) << "change after the garbage not applied";
  EXPECT_TRUE(reachable("10.96.0.50"));
  EXPECT_TRUE(d_->daemon_running());
}

TEST_F(DaemonTest, UnreachableApiServerKeepsTheRulesAndRecovers) {
  create_web("web", "10.96.0.50", {0, 1});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  auto before = d_->node_rules();
  ASSERT_TRUE(before);
  ASSERT_TRUE(d_->fault(R"({"outage_ms": 30000})"));
  // Throughout the outage the node keeps forwarding with the last state.
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(5s);
    EXPECT_TRUE(reachable("10.96.0.50")) << "at " << (i + 1) * 5 << " s into the outage";
  }
  EXPECT_EQ(d_->node_rules().value_or(""), *before) << "rules changed while the API server was away";
  // Once it is back, changes flow again within one maximum backoff: 30 s
  // with up to 20 % jitter (36 s), then a relist and a sync.
  auto created = wait_until([&] { return d_->kubectl_apply(service_manifest("api", "10.96.0.51")).has_value(); }, 10s);
  ASSERT_TRUE(created);
  ASSERT_TRUE(d_->kubectl_apply(slice_manifest("api", pod_ips(d_->world(), {2}))));
  EXPECT_TRUE(wait_until([&] { return reachable("10.96.0.51"); }, 45s)) << "no recovery within one backoff";
  EXPECT_TRUE(d_->daemon_running());
}

TEST_F(DaemonTest, AfterEveryFaultTheRulesEqualAFreshStart) {
  create_web("web", "10.96.0.50", {0, 1});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  ASSERT_TRUE(d_->fault(R"({"drop_watches": true})"));
  create_web("api", "10.96.0.51", {1, 2});
  ASSERT_TRUE(d_->fault(R"({"garbage": {"close": true}})"));
  ASSERT_TRUE(d_->kubectl_apply(slice_manifest("web", pod_ips(d_->world(), {3}))));
  ASSERT_TRUE(d_->fault(R"({"restart": {"jump": 500000}})"));
  ASSERT_TRUE(d_->kubectl({"delete", "service", "api", "-n", "default"}));
  create_web("db", "10.96.0.52", {2});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.52"); }, 5s));
  // Every watch has caught up once the deletion is in too (each resource has
  // its own watch and backoff).
  ASSERT_TRUE(wait_until(
      [&] {
        auto rules = d_->node_rules();
        return rules && rules->find("default/api:http") == std::string::npos;
      },
      35s));
  std::this_thread::sleep_for(1500ms);  // let a last coalesced sync land

  // A fresh start: the daemon restarted on the same node adopts the kernel
  // and rewrites everything; the rules must not change.
  auto after_faults = d_->node_rules();
  ASSERT_TRUE(after_faults);
  ASSERT_TRUE(d_->restart_daemon());
  ASSERT_TRUE(wait_until([&] { return d_->daemon_log().find("full sync (first sync)") != std::string::npos; }, 5s));
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(d_->node_rules().value_or(""), *after_faults);
  EXPECT_EQ(after_faults->find("default/api:http"), std::string::npos);
  EXPECT_NE(after_faults->find("default/db:http"), std::string::npos);
}

TEST_F(DaemonTest, ABurstOfAThousandServicesIsCoalescedIntoAFewSyncs) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  const double syncs_before =
      d_->metric("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}").value_or(-1);
  std::string list = R"({"apiVersion": "v1", "kind": "List", "items": [)";
  for (int i = 0; i < 1000; ++i) {
    const std::string name = "burst" + std::to_string(i);
    if (i > 0) list += ",";
    list += R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": ")" + name +
            R"(", "namespace": "default"}, "spec": {"clusterIP": "10.97.)" + std::to_string(i / 250) + "." +
            std::to_string(i % 250 + 1) + R"(", "ports": [{"name": "http", "port": 80}]}})";
  }
  list += "]}";
  const auto start = steady::now();
  ASSERT_TRUE(d_->http(DaemonWorld::kApiPort, "/sim/seed", list));
  ASSERT_LT(steady::now() - start, 1s) << "the burst took longer than a second to create";
  auto done = wait_until(
      [&] {
        auto rules = d_->node_rules();
        return rules && rules->find("default/burst999:http") != std::string::npos;
      },
      10s);
  ASSERT_TRUE(done);
  std::this_thread::sleep_for(1500ms);
  const double syncs =
      d_->metric("kubeproxy_sync_proxy_rules_duration_seconds_count{ip_family=\"IPv4\"}").value_or(-1) - syncs_before;
  EXPECT_GE(syncs, 1);
  EXPECT_LE(syncs, 5) << "1,000 changes should be coalesced into a few syncs";
}

// --proxy-mode nftables builds the nftables stack alone: no iptables rule is
// written, and nothing the daemon says is about iptables.
class NftablesDaemonTest : public DaemonTest {
 protected:
  DaemonOptions options() override {
    return {.extra_flags = {"--proxy-mode", "nftables"}, .prelude = kRouteLocalnetOff};
  }
};

TEST_F(NftablesDaemonTest, SetsTheConntrackTimeoutsButNotRouteLocalnet) {
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_tcp_timeout_close_wait"), 3600);
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_tcp_timeout_established"), 86400);
  EXPECT_EQ(node_sysctl("net.ipv4.conf.all.route_localnet"), 0) << "nftables mode serves no NodePort on 127.0.0.1";
}

TEST_F(NftablesDaemonTest, HealthCheckNodePortFollowsTheLocalEndpoint) { check_health_check_follows_the_endpoint(); }

TEST_F(NftablesDaemonTest, HealthCheckNodePortsOfTwoServicesDoNotBreakEachOther) {
  check_health_checks_do_not_break_each_other();
}

TEST_F(NftablesDaemonTest, ExposesTheNftablesModesMetricsAndNoIptablesOnes) {
  create_web("web", "10.96.0.50", {0});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  auto text = d_->http(DaemonWorld::kMetricsPort, "/metrics");
  ASSERT_TRUE(text) << text.error();
  EXPECT_NE(text->find("\nkubeproxy_sync_proxy_rules_nftables_sync_failures_total{ip_family=\"IPv4\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text->find("\nkubeproxy_sync_proxy_rules_nftables_cleanup_failures_total{ip_family=\"IPv4\"} 0\n"),
            std::string::npos);
  EXPECT_EQ(text->find("kubeproxy_sync_proxy_rules_iptables"), std::string::npos);
  auto mode = d_->get(DaemonWorld::kMetricsPort, "/proxyMode");
  ASSERT_TRUE(mode);
  EXPECT_EQ(mode->body, "nftables");
}

TEST_F(NftablesDaemonTest, ServesThroughItsTableAndNeverNamesIptables) {
  create_web("web", "10.96.0.50", {0, 1, 2, 3});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s)) << "not reachable within 2 s";
  const std::string log = d_->daemon_log();
  EXPECT_NE(log.find("nftables table ip kubenat"), std::string::npos) << log;
  EXPECT_NE(log.find("elements added"), std::string::npos) << log;
  EXPECT_EQ(log.find("iptables"), std::string::npos) << log;
  auto rules = d_->node_rules();
  ASSERT_TRUE(rules) << rules.error();
  EXPECT_EQ(rules->find("KUBE-"), std::string::npos) << *rules;
}

// The host's conntrack table size, the same in every network namespace.
long host_sysctl(const std::string& path) {
  std::ifstream in(path);
  long value = -1;
  in >> value;
  return value;
}

constexpr const char* kConntrackMax = "/proc/sys/net/netfilter/nf_conntrack_max";
constexpr const char* kConntrackHashsize = "/sys/module/nf_conntrack/parameters/hashsize";

// kube-proxy's conntrack flags, set to values other than the kernel's.
class SysctlDaemonTest : public DaemonTest {
 protected:
  DaemonOptions options() override {
    // A table larger than the host's, but not so large that its hash size
    // would have to grow: the table is the host's (read-only in a network
    // namespace), the hash size a module parameter only the host namespace
    // can write, and a test must not change either.
    const long wanted = host_sysctl(kConntrackMax) + 1;
    fits_hash_ = wanted / 4 <= host_sysctl(kConntrackHashsize);
    return {.extra_flags = {"--conntrack-max-per-core=1", "--conntrack-min=" + std::to_string(wanted),
                            "--conntrack-tcp-timeout-established=2h", "--conntrack-tcp-be-liberal",
                            "--conntrack-udp-timeout=45s", "--conntrack-udp-timeout-stream=2m30s"},
            .prelude = kRouteLocalnetOff};
  }
  bool fits_hash_ = false;
};

TEST_F(SysctlDaemonTest, SetsKubeProxysConntrackTimeoutsAndRouteLocalnetInItsNamespace) {
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_tcp_timeout_established"), 7200);
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_tcp_timeout_close_wait"), 3600) << "kube-proxy's default";
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_tcp_be_liberal"), 1);
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_udp_timeout"), 45);
  EXPECT_EQ(node_sysctl("net.netfilter.nf_conntrack_udp_timeout_stream"), 150);
  EXPECT_EQ(node_sysctl("net.ipv4.conf.all.route_localnet"), 1) << "iptables mode accepts NodePorts on 127.0.0.1";
  const std::string log = d_->daemon_log();
  EXPECT_NE(log.find("set net.netfilter.nf_conntrack_tcp_timeout_established = 7200 (was 432000)"), std::string::npos)
      << log;
}

TEST_F(SysctlDaemonTest, LiberalTcpTrackingLeavesOutTheInvalidDropRule) {
  const std::string rules = synced_rules();
  EXPECT_EQ(rules.find("--ctstate INVALID -j DROP"), std::string::npos) << rules;
}

TEST_F(DaemonTest, DropsInvalidPacketsWhenTcpTrackingIsStrict) {
  const std::string rules = synced_rules();
  EXPECT_NE(rules.find("-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"), std::string::npos) << rules;
}

TEST_F(SysctlDaemonTest, ATableItCannotRaiseIsWarnedAboutCountedAndCostsNothingElse) {
  // min is above the table, so raising it was tried, but nf_conntrack_max is
  // read-only outside the host namespace.
  if (!fits_hash_) GTEST_SKIP() << "this host's conntrack table outgrows its hash size";
  EXPECT_NE(d_->daemon_log().find("cannot set net.netfilter.nf_conntrack_max to"), std::string::npos)
      << d_->daemon_log();
  EXPECT_EQ(d_->metric("kubenat_node_sysctls_failed").value_or(-1), 1);
  create_web("web", "10.96.0.50", {0});
  EXPECT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
}

// /proc/sys mounted read-only, as in a container without privileges.
class ReadOnlyProcSysDaemonTest : public DaemonTest {
 protected:
  DaemonOptions options() override {
    return {.prelude = std::string(kRouteLocalnetOff) +
                       "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && "};
  }
};

TEST_F(ReadOnlyProcSysDaemonTest, AReadOnlyProcSysDoesNotStopTheDaemon) {
  create_web("web", "10.96.0.50", {0, 1});
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 2s));
  const std::string log = d_->daemon_log();
  EXPECT_NE(log.find("cannot set net.netfilter.nf_conntrack_tcp_timeout_close_wait to 3600: cannot open "
                     "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close_wait: Read-only file system; going on"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("cannot set net.ipv4.conf.all.route_localnet to 1"), std::string::npos) << log;
  EXPECT_GE(d_->metric("kubenat_node_sysctls_failed").value_or(-1), 3);
  EXPECT_TRUE(d_->daemon_running());
}

}  // namespace
}  // namespace kubenat::e2e
