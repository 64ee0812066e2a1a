// The simulator has to keep up with what it is used to test: LISTs of
// 10,000 services and slices well under a second, bursts of a thousand
// writes per second while watches fan them out (one of them never read).
// The measured times are printed, not asserted: a loaded machine (the
// sanitizer trees run tests two at a time) failed a bound of 2 s.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/apiserver_sim/sim_fixture.h"

namespace kubenat::apiserver_sim::testing {
namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

TEST_F(SimTest, ListsTenThousandServicesAndSlices) {
  json services = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
  json slices = services;
  for (int i = 0; i < 10000; ++i) {
    const std::string name = "svc-" + std::to_string(i);
    const std::string namespace_name = "ns-" + std::to_string(i % 50);
    services["items"].push_back(service_object(name, namespace_name, {{"app", name}}));
    slices["items"].push_back(slice_object(name + "-abcde", name, namespace_name,
                                           "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250)));
  }
  const auto seeding = Clock::now();
  ASSERT_EQ(sim_->seed(services).value_or(0), 10000u);
  ASSERT_EQ(sim_->seed(slices).value_or(0), 10000u);
  std::printf("seed 20,000 objects: %.0f ms\n", milliseconds_since(seeding));

  for (const std::string path : {"/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"}) {
    const auto started = Clock::now();
    HttpResponse response = call("GET", path);
    const double elapsed = milliseconds_since(started);
    ASSERT_EQ(response.status, 200);
    std::printf("LIST %s: %zu bytes in %.1f ms\n", path.c_str(), response.body.size(), elapsed);
    EXPECT_EQ(response.json()["items"].size(), 10000u);
  }
  const auto paged = Clock::now();
  std::size_t items = 0;
  std::string token;
  do {
    json page = get_json("/api/v1/services?limit=500" + (token.empty() ? "" : "&continue=" + token));
    items += page["items"].size();
    token = page["metadata"].value("continue", "");
  } while (!token.empty());
  std::printf("LIST services in pages of 500: %.1f ms\n", milliseconds_since(paged));
  EXPECT_EQ(items, 10000u);
}

TEST_F(SimTest, AThousandCreatesWhileWatchesFanOut) {
  const std::string from = std::to_string(sim_->resource_version());
  auto reader = watch("/api/v1/services?watch=1&resourceVersion=" + from);
  auto idle = watch("/api/v1/services?watch=1&resourceVersion=" + from);  // never read
  ASSERT_TRUE(reader);
  ASSERT_TRUE(idle);
  std::atomic<int> seen = 0;
  std::thread consumer([&] {
    while (seen < 1000) {
      auto line = reader->line(std::chrono::seconds(10));
      if (!line || !*line) break;
      ++seen;
    }
  });

  constexpr int kClients = 4;
  constexpr int kPerClient = 250;
  std::atomic<int> created = 0;
  const auto started = Clock::now();
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto connection = HttpConnection::open(sim_->port());
      if (!connection) return;
      for (int i = 0; i < kPerClient; ++i) {
        const std::string name = "burst-" + std::to_string(c) + "-" + std::to_string(i);
        auto response = connection->request("POST", "/api/v1/namespaces/default/services", service_object(name).dump());
        if (response && response->status == 201) ++created;
      }
    });
  }
  for (std::thread& client : clients) client.join();
  const double elapsed = milliseconds_since(started);
  consumer.join();
  std::printf("1,000 POSTs over %d connections: %.0f ms (%.0f/s); watcher saw %d events\n", kClients, elapsed,
              1000.0 / (elapsed / 1000.0), seen.load());
  EXPECT_EQ(created, 1000);
  EXPECT_EQ(seen, 1000);
}

}  // namespace
}  // namespace kubenat::apiserver_sim::testing
