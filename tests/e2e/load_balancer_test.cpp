// A load balancer in front of two workers, as a cloud one works for a
// Service with externalTrafficPolicy Local: it probes each worker's
// health-check node port and sends new connections to the Service's
// NodePort only on workers that answer 200. While the Service's only
// endpoint moves from worker-1's pod to worker-2's the way a rollout moves
// it (the new one ready first, then the old one terminating but still
// serving, then gone), no connection is lost, on either backend.
//
// The workers, pods and simulator are tests/e2e/lan_world.h's; the load
// balancer stands in the LAN namespace.

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <array>
#include <map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/process.h"
#include "rules/encode.h"
#include "tests/e2e/lan_world.h"
#include "tests/e2e/netns_world.h"
#include "tests/support/cluster_builder.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;
using namespace kubenat::testing;
using steady = std::chrono::steady_clock;

constexpr int kNodePort = 30070;
constexpr int kHealthPort = 32070;

class LoadBalancerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_NETNS();
    auto world = LanWorld::create();
    ASSERT_TRUE(world) << world.error();
    w_ = std::move(*world);
    for (int n : {1, 2}) {
      auto added = w_->add_worker(n, {"--proxy-mode", GetParam(), "--cluster-cidr", "10.200.0.0/16"});
      ASSERT_TRUE(added) << added.error() << "\n" << w_->all_logs();
      // Pods answer the load balancer through their worker.
      auto routed = run_process({"ip", "-n", w_->pod_ns(n), "route", "add", "10.240.0.0/24", "via",
                                 "10.200." + std::to_string(n) + ".1"});
      ASSERT_TRUE(routed && routed->ok()) << (routed ? routed->err : routed.error());
    }
    auto service = ServiceBuilder("default", "web")
                       .type(ServiceType::LoadBalancer)
                       .cluster_ip("10.96.0.70")
                       .port("http", 80, Protocol::Tcp, kNodePort)
                       .external_local()
                       .health_check_node_port(kHealthPort)
                       .build();
    ASSERT_TRUE(w_->seed(encode_service(service).dump()));
  }
  void TearDown() override {
    if (w_ && HasFailure()) std::cerr << w_->all_logs();
  }

  // The Service's slice: pod 1 on worker-1 (ready, or terminating and still
  // serving), pod 2 on worker-2 when asked.
  void publish(bool pod1, bool pod1_terminating, bool pod2) {
    SliceBuilder slice("default", "web", "abcde");
    slice.port("http", kLanEchoPort);
    if (pod1) {
      slice.endpoint(pod_ip(1), worker_name(1));
      if (pod1_terminating) slice.terminating(true);
    }
    if (pod2) slice.endpoint(pod_ip(2), worker_name(2));
    auto seeded = w_->seed(encode_slice(slice.build()).dump());
    ASSERT_TRUE(seeded) << seeded.error();
  }

  // The status the load balancer's health check gets from worker n (0:
  // no answer).
  int health(int n) {
    auto ran = run_process({"ip", "netns", "exec", w_->lan_ns(), "curl", "-sS", "--max-time", "1", "-o", "/dev/null",
                            "-w", "%{http_code}", "http://" + worker_ip(n) + ":" + std::to_string(kHealthPort) + "/"});
    return ran && !ran->out.empty() ? std::stoi(ran->out) : 0;
  }

  std::unique_ptr<LanWorld> w_;
};

TEST_P(LoadBalancerTest, NoConnectionIsLostWhileTheOnlyEndpointMovesToAnotherNode) {
  publish(true, false, false);
  ASSERT_TRUE(wait_until([&] { return health(1) == 200 && health(2) == 503; }, 5s))
      << "worker-1: " << health(1) << ", worker-2: " << health(2);

  // The rollout, step by step, while the load balancer keeps opening
  // connections: each one to the next worker whose health check says 200.
  std::map<std::string, int> answers;  // pod name, or what a connection got instead
  int no_healthy_worker = 0;
  int next = 0;
  const auto start = steady::now();
  // When each step of the rollout is published: the new pod ready, the old
  // one terminating, then gone.
  const std::vector<std::pair<steady::duration, std::array<bool, 3>>> rollout = {
      {1500ms, {true, false, true}}, {3500ms, {true, true, true}}, {6000ms, {false, false, true}}};
  std::size_t step = 0;
  while (steady::now() - start < 9s) {
    if (step < rollout.size() && steady::now() - start > rollout[step].first) {
      const auto& [pod1, pod1_terminating, pod2] = rollout[step].second;
      publish(pod1, pod1_terminating, pod2);
      ++step;
    }
    std::vector<int> healthy;
    for (int n : {1, 2}) {
      if (health(n) == 200) healthy.push_back(n);
    }
    if (healthy.empty()) {
      ++no_healthy_worker;
      continue;
    }
    const int worker = healthy[static_cast<std::size_t>(next++) % healthy.size()];
    ++answers[w_->connect(w_->lan_ns(), worker_ip(worker), kNodePort, 1000)];
  }
  std::string seen;
  for (const auto& [what, count] : answers) seen += " " + what + "=" + std::to_string(count);
  std::cout << "connections by answer:" << seen << "\n";
  int answered = answers[pod_name(1)] + answers[pod_name(2)];
  int total = 0;
  for (const auto& [what, count] : answers) total += count;
  EXPECT_EQ(answered, total) << "lost connections:" << seen;
  EXPECT_EQ(no_healthy_worker, 0) << "moments without any healthy worker";
  EXPECT_GT(answers[pod_name(1)], 0) << seen;
  EXPECT_GT(answers[pod_name(2)], 0) << seen;
  EXPECT_EQ(health(1), 503);
  EXPECT_EQ(health(2), 200);
}

INSTANTIATE_TEST_SUITE_P(Backends, LoadBalancerTest, ::testing::Values("iptables", "nftables"),
                         [](const ::testing::TestParamInfo<std::string>& param) { return param.param; });

}  // namespace
}  // namespace kubenat::e2e
