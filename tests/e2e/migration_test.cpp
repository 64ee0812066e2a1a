// Switching a node between proxy modes with `kubenat run`: from kube-proxy's
// iptables rules (written by `kubenat apply` in iptables mode, standing in
// for kube-proxy) to the nftables mode, and from the nftables mode back to
// the iptables mode. Connections keep being answered throughout, and the old
// mode's rules are gone once the new mode's first sync is in.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "engine/process.h"
#include "tests/e2e/daemon.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClusterIp = "10.96.0.50";

// Connections to the cluster IP, one after another, from a thread of its own
// until stopped: every one must be answered.
class Prober {
 public:
  explicit Prober(NetnsWorld& world)
      : thread_([this, &world] {
          while (!stop_) {
            auto result = world.tcp(world.client_ns(), kClusterIp, 80, ProbeOptions{.count = 20, .timeout_ms = 1000});
            sent_ += 20;
            answered_ += result ? result->answered() : 0;
          }
        }) {}
  ~Prober() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int sent() const { return sent_; }
  int answered() const { return answered_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> sent_{0};
  std::atomic<int> answered_{0};
  std::thread thread_;
};

class MigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_DAEMON_WORLD();
    auto d = DaemonWorld::create(4, {.start = false});
    ASSERT_TRUE(d) << d.error();
    d_ = std::move(*d);
    ASSERT_TRUE(d_->kubectl_apply(service_manifest("web", kClusterIp)));
    std::vector<std::string> ips;
    for (int pod = 0; pod < 4; ++pod) ips.push_back(d_->world().pod_ip(pod));
    ASSERT_TRUE(d_->kubectl_apply(slice_manifest("web", ips)));
  }
  void TearDown() override {
    if (d_ && HasFailure()) std::cerr << "kubenat run's log:\n" << d_->daemon_log();
  }

  bool reachable() {
    auto result = d_->world().tcp(d_->world().client_ns(), kClusterIp, 80, ProbeOptions{.count = 1, .timeout_ms = 300});
    return result && result->answered() == 1;
  }
  std::string in_node(std::vector<std::string> argv) {
    auto text = d_->world().exec_checked(d_->world().node_ns(), std::move(argv));
    return text ? *text : "(failed: " + text.error() + ")";
  }
  bool logged(const std::string& text) { return d_->daemon_log().find(text) != std::string::npos; }

  std::unique_ptr<DaemonWorld> d_;
};

TEST_F(MigrationTest, FromKubeProxysIptablesRulesToTheNftablesModeWithoutALostConnection) {
  // kube-proxy's rules for the cluster as the API server has it.
  auto objects = d_->kubectl({"get", "services,endpointslices", "-A", "-o", "json"});
  ASSERT_TRUE(objects) << objects.error();
  auto applied =
      run_process({"ip", "netns", "exec", d_->world().node_ns(), KUBENAT_BINARY, "apply", "--snapshot", "/dev/stdin",
                   "--node", DaemonWorld::kNodeName, "--cluster-cidr", NetnsWorld::kPodCidr, "--iptables-mode", "nft"},
                  {.input = *objects});
  ASSERT_TRUE(applied && applied->ok()) << (applied ? applied->err : applied.error());
  ASSERT_TRUE(reachable()) << "through kube-proxy's rules";

  Prober prober(d_->world());
  ASSERT_TRUE(d_->start_daemon_with({"--proxy-mode", "nftables"}));
  ASSERT_TRUE(wait_until([&] { return logged("removed what another proxy mode left: iptables-nft"); }, 5s));
  std::this_thread::sleep_for(300ms);
  prober.finish();
  EXPECT_GT(prober.sent(), 0);
  EXPECT_EQ(prober.answered(), prober.sent()) << "connections lost during the switch";

  const std::string iptables = in_node({"iptables-nft-save"});
  EXPECT_EQ(iptables.find("KUBE-"), std::string::npos) << iptables;
  EXPECT_NE(in_node({"nft", "list", "tables"}).find("table ip kubenat"), std::string::npos);
  EXPECT_TRUE(reachable()) << "through the nftables table alone";
}

TEST_F(MigrationTest, FromTheNftablesModeToTheIptablesModeWithoutALostConnection) {
  ASSERT_TRUE(d_->start_daemon_with({"--proxy-mode", "nftables"}));
  ASSERT_TRUE(wait_until([&] { return reachable(); }, 3s));

  Prober prober(d_->world());
  ASSERT_TRUE(d_->start_daemon_with({"--proxy-mode", "iptables"}));
  ASSERT_TRUE(
      wait_until([&] { return logged("removed what another proxy mode left: nftables table ip kubenat"); }, 5s));
  std::this_thread::sleep_for(300ms);
  prober.finish();
  EXPECT_GT(prober.sent(), 0);
  EXPECT_EQ(prober.answered(), prober.sent()) << "connections lost during the switch";

  const std::string tables = in_node({"nft", "list", "tables"});
  EXPECT_EQ(tables.find("table ip kubenat"), std::string::npos) << tables;
  EXPECT_NE(in_node({"iptables-save", "-t", "nat"}).find("-A KUBE-SERVICES"), std::string::npos);
  EXPECT_TRUE(reachable()) << "through the iptables rules alone";
}

}  // namespace
}  // namespace kubenat::e2e
