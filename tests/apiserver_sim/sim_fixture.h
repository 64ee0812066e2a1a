#pragma once

// A simulator per test on a free loopback port, and the HTTP calls the tests
// make against it.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/apiserver_sim/http_client.h"
#include "tools/apiserver_sim/apiserver_sim.h"

namespace kubenat::apiserver_sim::testing {

using nlohmann::json;

inline json service_object(const std::string& name, const std::string& namespace_name = "default",
                           const json& labels = json::object(), const std::string& type = "ClusterIP") {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", namespace_name}, {"labels", labels}}},
          {"spec", {{"type", type}, {"selector", {{"app", name}}}, {"ports", {{{"name", "http"}, {"port", 80}}}}}}};
}

inline json slice_object(const std::string& name, const std::string& service, const std::string& namespace_name = "default",
                         const std::string& address = "10.0.0.1") {
  return {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", name}, {"namespace", namespace_name}, {"labels", {{"kubernetes.io/service-name", service}}}}},
          {"addressType", "IPv4"},
          {"endpoints", {{{"addresses", {address}}, {"conditions", {{"ready", true}}}}}},
          {"ports", {{{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}}}};
}

// A watch response being read event by event.
class WatchReader {
 public:
  WatchReader(HttpConnection connection, int status) : connection_(std::move(connection)), status_(status) {}

  int status() const { return status_; }
  // The next line: an event, a garbage line, nullopt at the clean end, or an
  // error ("timeout", "reset", "closed").
  std::expected<std::optional<std::string>, std::string> line(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return connection_.next_line(timeout);
  }
  // The next event as JSON; fails the test on anything else.
  json event(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto next = line(timeout);
    if (!next) {
      ADD_FAILURE() << "watch: " << next.error();
      return nullptr;
    }
    if (!*next) {
      ADD_FAILURE() << "watch ended";
      return nullptr;
    }
    json parsed = json::parse(**next, nullptr, false);
    if (parsed.is_discarded()) ADD_FAILURE() << "not JSON: " << **next;
    return parsed;
  }
  // Events until the response ends (clean end expected within timeout).
  std::vector<json> rest(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<json> events;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto next = line(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!next) {
        ADD_FAILURE() << "watch: " << next.error();
        break;
      }
      if (!*next) break;
      events.push_back(json::parse(**next, nullptr, false));
    }
    return events;
  }

 private:
  HttpConnection connection_;
  int status_;
};

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { start(Options{}); }

  void start(Options options) {
    if (sim_) sim_->stop();
    sim_.reset();
    auto started = ApiServerSim::start(std::move(options));
    ASSERT_TRUE(started) << started.error();
    sim_ = std::move(*started);
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = "",
                    const std::string& content_type = "application/json",
                    const std::string& accept = "application/json") {
    auto response = http(sim_->port(), method, target, body, content_type, accept);
    if (!response) {
      ADD_FAILURE() << method << " " << target << ": " << response.error();
      return HttpResponse{};
    }
    return *response;
  }

  json get_json(const std::string& target) { return call("GET", target).json(); }

  // POSTs a Service (or any object to `collection`); expects 201.
  json create(const json& object, const std::string& collection) {
    HttpResponse response = call("POST", collection, object.dump());
    EXPECT_EQ(response.status, 201) << response.body;
    return response.json();
  }

  json create_service(const std::string& name, const std::string& namespace_name = "default",
                      const json& labels = json::object()) {
    return create(service_object(name, namespace_name, labels), "/api/v1/namespaces/" + namespace_name + "/services");
  }

  std::optional<WatchReader> watch(const std::string& target) {
    auto connection = HttpConnection::open(sim_->port());
    if (!connection) {
      ADD_FAILURE() << connection.error();
      return std::nullopt;
    }
    auto head = connection->start("GET", target);
    if (!head) {
      ADD_FAILURE() << head.error();
      return std::nullopt;
    }
    return WatchReader(std::move(*connection), head->status);
  }

  // Waits until the simulator has `count` open watches: for watches opened
  // by other programs (kubectl). A watch opened with watch() is registered
  // once its response head has been read.
  void wait_for_watches(std::uint64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sim_->stats().open_watches < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(sim_->stats().open_watches, count);
  }

  static std::string rv_of(const json& object) { return object["metadata"]["resourceVersion"].get<std::string>(); }
  static std::uint64_t rv_number(const json& object) { return std::stoull(rv_of(object)); }

  std::unique_ptr<ApiServerSim> sim_;
};

}  // namespace kubenat::apiserver_sim::testing
