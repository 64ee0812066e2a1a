#pragma once

// An in-memory Kubernetes API server for tests, demos and benchmarks.
//
// It serves what kubenat (and kubectl) use of the real one: discovery, and
// Services, Endpoints, Nodes, Namespaces (v1) and EndpointSlices
// (discovery.k8s.io/v1) with list (selectors, pagination), get, create,
// update, patch, delete and watch (resourceVersion resumption, bookmarks,
// 410 Gone once the event window has moved on). Faults are injected on
// demand, from C++ or over HTTP (POST /sim/faults), so that clients can be
// tested against dropped watches, garbage, compaction and outages.
//
// Runs in-process (tests start one per test on a free loopback port) or as
// the kubenat-apiserver-sim binary. Every method is thread-safe.

#include <chrono>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace kubenat::apiserver_sim {

// Faults that stay in force until changed.
struct FaultSettings {
  // Every API request (not /sim/ requests) waits this long before it is
  // answered; a watch waits before its first byte.
  std::chrono::milliseconds delay{0};
  // After every N events a watch sends a line that is not JSON and a
  // truncated JSON line; 0 = never.
  int watch_garbage_every = 0;
  // After garbage the watch response ends (final chunk) instead of going on.
  bool garbage_closes = false;
};

// The NodePorts the simulator allocates and accepts, both ends included:
// kube-apiserver's --service-node-port-range.
struct NodePortRange {
  int first = 30000;
  int last = 32767;
};

struct Options {
  // Address to listen on; port 0 picks a free one (see port()).
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  // HTTPS with a certificate generated at start (a CA and a serving
  // certificate for host, 127.0.0.1 and localhost); see ca_pem().
  bool tls = false;
  // When not empty, API requests must carry "Authorization: Bearer <token>"
  // (401 otherwise). /sim/ and health requests never need it.
  std::string token;
  // The event window: events a watch can resume from. Older ones are
  // forgotten, and a watch or a continue token from before them gets 410.
  std::size_t history_limit = 10000;
  // Events older than this are forgotten too; zero = no age limit.
  std::chrono::milliseconds history_age{0};
  // How often a watch with allowWatchBookmarks=true gets a BOOKMARK.
  std::chrono::milliseconds bookmark_interval{1000};
  // Watches without timeoutSeconds end after this; zero = never.
  std::chrono::milliseconds watch_timeout{0};
  // The version /version reports (kubectl warns on a large skew).
  std::string kubernetes_version = "v1.32.0";
  NodePortRange node_port_range;
  FaultSettings faults;
};

// Counters since start (or the last reset_stats()), for assertions such as
// "the client relisted once".
struct Stats {
  std::uint64_t requests = 0;                           // every HTTP request, /sim/ included
  std::map<std::string, std::uint64_t> by_path;         // "/api/v1/services" -> count (query stripped)
  std::map<std::string, std::uint64_t> by_verb;         // list, watch, get, create, update, patch, delete, deletecollection
  std::map<std::string, std::uint64_t> lists;           // resource plural -> LIST count
  std::map<std::string, std::uint64_t> watches;         // resource plural -> WATCH count
  std::uint64_t expired = 0;                            // 410 answers: watch ERROR events and expired continues
  std::uint64_t dropped_watches = 0;                    // watches cut by drop_watches(), restart() or an outage
  std::uint64_t open_watches = 0;                       // now
  std::uint64_t resource_version = 0;                   // now

  nlohmann::json to_json() const;
};

// An error as the API server reports it: the Status code and reason
// ("NotFound", "AlreadyExists", "Conflict", "Gone"/"Expired", "BadRequest",
// "Invalid") and a message.
struct ApiError {
  int code = 500;
  std::string reason;
  std::string message;
  // The Status "details" ({"name": ..., "kind": ...}); null when none.
  nlohmann::json details;

  // The Kubernetes Status object for it.
  nlohmann::json to_status() const;
};

class ApiServerSim {
 public:
  // Binds, starts serving and returns; the error says what failed (bad
  // address, port in use, certificate generation).
  [[nodiscard]] static std::expected<std::unique_ptr<ApiServerSim>, std::string> start(Options options);
  ~ApiServerSim();
  ApiServerSim(const ApiServerSim&) = delete;
  ApiServerSim& operator=(const ApiServerSim&) = delete;

  int port() const;
  // "http://127.0.0.1:PORT" (https with tls).
  std::string url() const;
  // The CA certificate (PEM) clients should trust; empty without tls.
  std::string ca_pem() const;
  // A kubeconfig for url(): context "kubenat-sim", namespace default, the
  // token if one is required, the CA if tls.
  std::string kubeconfig() const;
  [[nodiscard]] std::expected<void, std::string> write_kubeconfig(const std::string& path) const;

  // Closes every connection and joins every thread. Idempotent; the
  // destructor calls it.
  void stop();

  // --- Objects, as a client would see them through the API -------------

  // Stores every object of a v1 List (or a single object): what `kubectl get
  // ... -o json` prints. Objects keep their uid and creationTimestamp and get
  // a new resourceVersion; unknown kinds are skipped. Returns how many were
  // stored (created or replaced).
  [[nodiscard]] std::expected<std::size_t, std::string> seed(const nlohmann::json& list);
  // Reads a JSON or YAML file and seeds it.
  [[nodiscard]] std::expected<std::size_t, std::string> seed_file(const std::string& path);

  // Creates, replaces or deletes an object; the kind is taken from the
  // object's apiVersion and kind. Same semantics as POST / PUT / DELETE.
  [[nodiscard]] std::expected<nlohmann::json, ApiError> create(const nlohmann::json& object);
  [[nodiscard]] std::expected<nlohmann::json, ApiError> replace(const nlohmann::json& object);
  // resource is the plural ("services", "endpointslices", "nodes", ...);
  // namespace_name is ignored for cluster-scoped resources.
  [[nodiscard]] std::expected<nlohmann::json, ApiError> remove(const std::string& resource,
                                                               const std::string& namespace_name,
                                                               const std::string& name);
  [[nodiscard]] std::expected<nlohmann::json, ApiError> get(const std::string& resource,
                                                            const std::string& namespace_name,
                                                            const std::string& name) const;
  // The list (kind ServiceList, ...) of one namespace, or all when empty.
  [[nodiscard]] std::expected<nlohmann::json, ApiError> list(const std::string& resource,
                                                             const std::string& namespace_name = "") const;
  // The current (latest written) resourceVersion.
  std::uint64_t resource_version() const;

  // --- Faults (also POST /sim/faults) ------------------------------------

  // Cuts every open watch connection now (TCP reset, no final chunk).
  void drop_watches();
  // Every open watch sends a line that is not JSON, then a truncated JSON
  // line; then it goes on, or with close the response ends.
  void inject_garbage(bool close);
  // Like an etcd compaction plus an API server restart: the event history is
  // forgotten, the resourceVersion jumps ahead by `jump`, open watches are
  // dropped; objects are kept. Any watch or continue from before gets 410.
  void restart(std::uint64_t jump = 1000000);
  // Forgets the event history (a compaction at the current revision) without
  // dropping anything: resuming from an older resourceVersion gets 410.
  void compact();
  // Stops answering for `duration`: the listening socket is closed (new
  // connections are refused) and every connection is cut; then it listens
  // again on the same port.
  void outage(std::chrono::milliseconds duration);
  void set_faults(const FaultSettings& faults);
  FaultSettings faults() const;

  Stats stats() const;
  void reset_stats();

  struct Impl;

 private:
  explicit ApiServerSim(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubenat::apiserver_sim
