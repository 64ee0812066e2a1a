#pragma once

// HTTP requests to the simulator, in and out, without the transport: the
// routing of API paths, discovery, the verbs, watches (as a WatchStream for
// the connection to pump) and the /sim/ control endpoints. server.cpp reads
// and writes the bytes; everything decided about a request is decided here.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <variant>

#include "tools/apiserver_sim/apiserver_sim.h"
#include "tools/apiserver_sim/store.h"
#include "tools/apiserver_sim/watch_stream.h"

namespace kubenat::apiserver_sim {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as on the request line
  std::string accept;
  std::string content_type;
  std::string authorization;
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Runs once the response has been written: for faults that cut the very
  // connection that asked for them (an outage).
  std::function<void()> after;
};

// What /sim/ requests act on: the server as a whole (ApiServerSim::Impl).
class SimControl {
 public:
  virtual ~SimControl() = default;
  virtual void drop_watches() = 0;
  virtual void inject_garbage(bool close) = 0;
  virtual void restart(std::uint64_t jump) = 0;
  virtual void compact() = 0;
  virtual void outage(std::chrono::milliseconds duration) = 0;
  virtual void set_faults(const FaultSettings& faults) = 0;
  virtual FaultSettings faults() const = 0;
  virtual Stats stats() const = 0;
  virtual void reset_stats() = 0;
};

// Request counters behind /sim/stats; thread-safe.
class StatsRecorder {
 public:
  void request(const std::string& path);
  void verb(const std::string& verb);
  void list(const std::string& resource);
  void watch(const std::string& resource);
  void expired();
  void dropped(std::uint64_t count);
  // open_watches and resource_version are the caller's to fill in.
  Stats snapshot() const;
  void reset();

 private:
  mutable std::mutex mutex_;
  Stats stats_;
};

struct HandlerConfig {
  std::string token;               // required bearer token; empty: none
  std::string kubernetes_version;  // for /version
  std::string server_address;      // "127.0.0.1:PORT", for /api
  std::chrono::milliseconds bookmark_interval{1000};
  std::chrono::milliseconds watch_timeout{0};
};

class Handler {
 public:
  Handler(HandlerConfig config, Store& store, StatsRecorder& stats, SimControl& control);

  // A complete response, or a watch for the connection to stream.
  using Outcome = std::variant<HttpResponse, std::unique_ptr<WatchStream>>;
  Outcome handle(const HttpRequest& request);

 private:
  struct ApiPath;
  Outcome handle_api(const HttpRequest& request, const ApiPath& path, const std::map<std::string, std::string>& params);
  HttpResponse handle_sim(const HttpRequest& request, const std::string& path);
  HttpResponse list(const HttpRequest& request, const ApiPath& path, const std::map<std::string, std::string>& params);
  Outcome watch(const HttpRequest& request, const ApiPath& path, const std::map<std::string, std::string>& params);
  HttpResponse object_response(const HttpRequest& request, const ApiPath& path,
                               const std::map<std::string, std::string>& params, const ObjectPtr& object,
                               int status) const;

  HandlerConfig config_;
  Store& store_;
  StatsRecorder& stats_;
  SimControl& control_;
};

}  // namespace kubenat::apiserver_sim
