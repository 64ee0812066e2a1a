// ClusterWatcher's threads over transports that block until aborted: which
// informers it starts with which selectors, and that stop() ends them all
// promptly.

#include "watch/cluster_watcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "tests/watch/recording_listener.h"

namespace kubenat {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using namespace kubenat::testing;
using namespace std::chrono_literals;

// Records each request, then blocks until abort(), like a server that never
// answers.
class BlockingTransport final : public ApiTransport {
 public:
  explicit BlockingTransport(std::shared_ptr<std::vector<std::string>> requests, std::shared_ptr<std::mutex> mutex,
                             std::shared_ptr<std::condition_variable> cond)
      : requests_(std::move(requests)), mutex_(std::move(mutex)), cond_(std::move(cond)) {}

  std::expected<HttpResponse, TransportError> get(const std::string& path) override {
    block(path);
    return std::unexpected(TransportError{TransportFailure::Aborted, "aborted"});
  }
  std::expected<StreamEnd, TransportError> stream(const std::string& path, const LineHandler&) override {
    block(path);
    return std::unexpected(TransportError{TransportFailure::Aborted, "aborted"});
  }
  void abort() override {
    const std::lock_guard lock(*mutex_);
    aborted_ = true;
    cond_->notify_all();
  }

 private:
  void block(const std::string& path) {
    std::unique_lock lock(*mutex_);
    requests_->push_back(path);
    cond_->notify_all();
    cond_->wait(lock, [this] { return aborted_; });
  }

  std::shared_ptr<std::vector<std::string>> requests_;
  std::shared_ptr<std::mutex> mutex_;
  std::shared_ptr<std::condition_variable> cond_;
  bool aborted_ = false;
};

struct Blocking {
  std::shared_ptr<std::vector<std::string>> requests = std::make_shared<std::vector<std::string>>();
  std::shared_ptr<std::mutex> mutex = std::make_shared<std::mutex>();
  std::shared_ptr<std::condition_variable> cond = std::make_shared<std::condition_variable>();

  TransportFactory factory() {
    return [this]() -> std::expected<std::unique_ptr<ApiTransport>, std::string> {
      return std::make_unique<BlockingTransport>(requests, mutex, cond);
    };
  }
  std::vector<std::string> wait_for(std::size_t count) {
    std::unique_lock lock(*mutex);
    cond->wait_for(lock, 5s, [&] { return requests->size() >= count; });
    return *requests;
  }
};

TEST(ClusterWatcher, StartsOneInformerPerResourceAndStopsThemPromptly) {
  Blocking blocking;
  RecordingListener listener;
  ClusterWatcherOptions options;
  auto watcher = ClusterWatcher::start(blocking.factory(), listener, options);
  ASSERT_TRUE(watcher) << watcher.error();
  EXPECT_THAT(blocking.wait_for(3),
              UnorderedElementsAre("/api/v1/services?limit=500&labelSelector=%21service.kubernetes.io%2Fservice-"
                                   "proxy-name%2C%21service.kubernetes.io%2Fheadless",
                                   "/apis/discovery.k8s.io/v1", "/api/v1/nodes?limit=500"));
  const auto start = std::chrono::steady_clock::now();
  (*watcher)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  (*watcher)->stop();  // idempotent
  EXPECT_THAT(listener.events(), ::testing::IsEmpty());
}

TEST(ClusterWatcher, CanWatchOnlyItsOwnNodeOrNoNodes) {
  {
    Blocking blocking;
    RecordingListener listener;
    ClusterWatcherOptions options;
    options.only_own_node = true;
    options.node_name = "worker-1";
    options.label_selector = "";
    auto watcher = ClusterWatcher::start(blocking.factory(), listener, options);
    ASSERT_TRUE(watcher) << watcher.error();
    const auto requests = blocking.wait_for(3);
    EXPECT_THAT(requests, Contains("/api/v1/nodes?limit=500&fieldSelector=metadata.name%3Dworker-1"));
    EXPECT_THAT(requests, Contains("/api/v1/services?limit=500"));
  }
  {
    Blocking blocking;
    RecordingListener listener;
    ClusterWatcherOptions options;
    options.watch_nodes = false;
    options.fall_back_to_endpoints = false;
    auto watcher = ClusterWatcher::start(blocking.factory(), listener, options);
    ASSERT_TRUE(watcher) << watcher.error();
    std::this_thread::sleep_for(50ms);
    const auto requests = blocking.wait_for(2);
    EXPECT_EQ(requests.size(), 2u);
    EXPECT_THAT(requests, Contains(HasSubstr("/apis/discovery.k8s.io/v1/endpointslices?limit=500")));
  }
}

TEST(ClusterWatcher, ANamedProxyWatchesTheServicesLabelledWithItsName) {
  Blocking blocking;
  RecordingListener listener;
  ClusterWatcherOptions options;
  options.service_proxy_name = "kubenat";
  options.watch_nodes = false;
  auto watcher = ClusterWatcher::start(blocking.factory(), listener, options);
  ASSERT_TRUE(watcher) << watcher.error();
  EXPECT_THAT(blocking.wait_for(2),
              Contains("/api/v1/services?limit=500&labelSelector=service.kubernetes.io%2Fservice-proxy-name%3D"
                       "kubenat%2C%21service.kubernetes.io%2Fheadless"));
}

TEST(ClusterWatcher, StartErrors) {
  Blocking blocking;
  RecordingListener listener;
  ClusterWatcherOptions options;
  options.only_own_node = true;
  EXPECT_THAT(ClusterWatcher::start(blocking.factory(), listener, options).error(), HasSubstr("node name"));

  ApiServerConfig config;
  config.server = "https://127.0.0.1:1";
  config.ca_pem = "garbage";
  EXPECT_THAT(ClusterWatcher::start(config, listener).error(), HasSubstr("certificate authority"));
}

TEST(ClusterWatcher, UnreachableServerIsReportedAndStopIsPrompt) {
  RecordingListener listener;
  ApiServerConfig config;
  config.server = "http://127.0.0.1:1";  // nothing listens on port 1
  ClusterWatcherOptions options;
  options.backoff = {20ms, 100ms, 2.0, 0.2};
  auto watcher = ClusterWatcher::start(config, listener, options);
  ASSERT_TRUE(watcher) << watcher.error();
  EXPECT_TRUE(listener.wait_for_event("incident services ServerUnreachable", 2));
  EXPECT_TRUE(listener.wait_for_event("incident endpointslices ServerUnreachable", 2));
  EXPECT_TRUE(listener.wait_for_event("incident nodes ServerUnreachable", 2));
  const auto start = std::chrono::steady_clock::now();
  (*watcher)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

}  // namespace
}  // namespace kubenat
