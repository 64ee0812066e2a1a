#pragma once

// kube-proxy's health checks for load balancers
// (pkg/proxy/healthcheck/service_health.go): every LoadBalancer Service with
// externalTrafficPolicy Local has a health-check node port, which load
// balancers probe on every node to learn where the Service has endpoints.
// On that port, on the node-port addresses (every address when
// --nodeport-addresses does not restrict them), every request is answered
// 200 when this node has a ready endpoint of the Service and the proxy is
// healthy, 503 otherwise, with
//   {"service": {"namespace": .., "name": ..}, "localEndpoints": N, "serviceProxyHealthy": ..}
// and the header X-Load-Balancing-Endpoint-Weight: N.
//
// The sync loop drives it beside the service proxier, as a Proxier:
// compile() works out the changed Services' ports and endpoint counts
// (rules/service_health.h), apply() opens a port for each new Service,
// closes those of Services gone or moved to another port, and retries ports
// that could not be bound. A port that cannot be bound (taken by another
// program) is a warning, never a failed sync: the other Services' ports are
// not affected.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/daemon/health.h"
#include "engine/daemon/http_server.h"
#include "engine/proxier.h"
#include "rules/proxy_config.h"
#include "rules/service_health.h"

namespace kubenat {

class ServiceHealthServer final : public Proxier {
 public:
  // `listeners` serves the ports; `health` says whether the proxy is
  // healthy (serviceProxyHealthy: its syncs keep up, whatever the node's
  // eligibility). `listeners` must outlive this object, and `health` the
  // listeners' thread. `config` gives the family whose endpoints are
  // counted, this node and the node-port addresses. `families`: the
  // families whose node-port addresses the ports open on (a dual-stack node
  // answers load balancers of both); empty: config.family.
  ServiceHealthServer(HttpListeners& listeners, const ProxyHealth& health, ProxyConfig config,
                      std::vector<IpFamily> families = {});
  ~ServiceHealthServer() override;

  void compile(const ClusterState& state, const std::set<ObjectName>* changed) override;
  // Opens, closes and retries ports; ok unless something else went wrong
  // (a port that cannot be bound is a warning, named once until it
  // changes).
  SyncResult apply() override;
  void force_full_sync(std::string) override {}

  // Service ports with a Local traffic policy and no endpoint here, over
  // every Service (kubeproxy_sync_proxy_rules_no_local_endpoints_total).
  std::size_t no_local_internal() const { return no_local_internal_; }
  std::size_t no_local_external() const { return no_local_external_; }
  // Health-check ports served now, and attempts to open one that failed
  // since the start.
  std::size_t open_ports() const;
  std::size_t failed_binds() const { return failed_binds_; }

 private:
  struct Served {
    int port = 0;
    std::size_t local_endpoints = 0;
    std::vector<HttpListeners::Id> listeners;  // empty: not bound (yet)
  };
  // What the ports answer, shared with the listeners' handlers: a request
  // read before its port closed may be answered after this object is gone.
  struct Shared {
    explicit Shared(const ProxyHealth& proxy_health) : health(proxy_health) {}
    const ProxyHealth& health;
    std::mutex mutex;
    std::map<ObjectName, Served> served;
  };
  // Opens `port` for `service` on every node-port address; the error says
  // what could not be bound (nothing stays open then).
  std::expected<std::vector<HttpListeners::Id>, std::string> open(const ObjectName& service, int port);
  // Adds the Service's ports without local endpoints to the totals, or takes them off.
  void account(const ServiceHealth& facts, bool add);

  HttpListeners& listeners_;
  ProxyConfig config_;
  std::vector<IpFamily> families_;
  // What compile() found, for every Service with something to say.
  std::map<ObjectName, ServiceHealth> facts_;
  std::size_t no_local_internal_ = 0;
  std::size_t no_local_external_ = 0;
  std::size_t failed_binds_ = 0;
  std::set<std::string> reported_;  // bind failures already warned about
  std::shared_ptr<Shared> shared_;
};

// The reply kube-proxy gives on a health-check node port: `local_endpoints`
// and `proxy_healthy` decide the status; the body and headers as above.
HttpReply service_health_reply(const ObjectName& service, std::size_t local_endpoints, bool proxy_healthy);

}  // namespace kubenat
