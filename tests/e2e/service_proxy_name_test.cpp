// `kubenat run --service-proxy-name`: a named service proxy serves the
// Services labelled service.kubernetes.io/service-proxy-name with its name,
// and leaves every other Service (unlabelled, or another proxy's) alone.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "engine/process.h"
#include "tests/e2e/daemon.h"

namespace kubenat::e2e {
namespace {

using namespace std::chrono_literals;

constexpr const char* kProxyNameLabel = "service.kubernetes.io/service-proxy-name";

bool wait_until(const std::function<bool()>& done, std::chrono::steady_clock::duration limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// The manifests of daemon.h with the proxy-name label added when `proxy` is
// not empty, on the Service and its slice, as the EndpointSlice controller
// copies a Service's labels.
std::string labelled_service(const std::string& name, const std::string& cluster_ip, const std::string& proxy) {
  std::string manifest = service_manifest(name, cluster_ip);
  if (proxy.empty()) return manifest;
  const std::string metadata = "metadata:\n";
  manifest.insert(manifest.find(metadata) + metadata.size(),
                  "  labels:\n    " + std::string(kProxyNameLabel) + ": " + proxy + "\n");
  return manifest;
}

std::string labelled_slice(const std::string& service, const std::string& ip, const std::string& proxy) {
  std::string manifest = slice_manifest(service, {ip});
  if (proxy.empty()) return manifest;
  const std::string labels = "  labels:\n";
  manifest.insert(manifest.find(labels) + labels.size(), "    " + std::string(kProxyNameLabel) + ": " + proxy + "\n");
  return manifest;
}

class ServiceProxyNameTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KUBENAT_REQUIRE_DAEMON_WORLD();
    auto d = DaemonWorld::create(3, DaemonOptions{.extra_flags = {"--service-proxy-name=foo"}});
    ASSERT_TRUE(d) << d.error();
    d_ = std::move(*d);
  }
  void TearDown() override {
    if (d_ && HasFailure()) std::cerr << "kubenat run's log:\n" << d_->daemon_log();
  }

  void create(const std::string& name, const std::string& ip, int pod, const std::string& proxy) {
    ASSERT_TRUE(d_->kubectl_apply(labelled_service(name, ip, proxy)));
    ASSERT_TRUE(d_->kubectl_apply(labelled_slice(name, d_->world().pod_ip(pod), proxy)));
  }
  bool reachable(const std::string& ip) {
    auto result = d_->world().tcp(d_->world().client_ns(), ip, 80, ProbeOptions{.count = 1, .timeout_ms = 300});
    return result && result->answered() == 1;
  }

  std::unique_ptr<DaemonWorld> d_;
};

TEST_F(ServiceProxyNameTest, ServesTheServicesLabelledWithItsNameAndNoOthers) {
  create("theirs", "10.96.0.51", 1, "");
  create("other", "10.96.0.52", 2, "bar");
  create("mine", "10.96.0.50", 0, "foo");
  ASSERT_TRUE(wait_until([&] { return reachable("10.96.0.50"); }, 3s)) << "the labelled Service is not served";
  // The three were created before the labelled one was served: had the
  // others been proxied, they would be by now.
  EXPECT_FALSE(reachable("10.96.0.51")) << "an unlabelled Service is served";
  EXPECT_FALSE(reachable("10.96.0.52")) << "another proxy's Service is served";
  auto rules = d_->node_rules();
  ASSERT_TRUE(rules) << rules.error();
  EXPECT_NE(rules->find("default/mine:http"), std::string::npos) << *rules;
  EXPECT_EQ(rules->find("default/theirs:http"), std::string::npos) << *rules;
  EXPECT_EQ(rules->find("default/other:http"), std::string::npos) << *rules;
}

}  // namespace
}  // namespace kubenat::e2e
