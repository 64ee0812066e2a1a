#include "bench/simulator_namespace.h"

#include "engine/process.h"

namespace kubenat::bench {

std::expected<ScopedNetworkNamespace, std::string> make_loopback_namespace(const std::string& name) {
  auto created = ScopedNetworkNamespace::create(name);
  if (!created) return std::unexpected(created.error());
  auto up = run_process({"ip", "-n", name, "link", "set", "lo", "up"});
  if (!up) return std::unexpected(up.error());
  if (!up->ok()) return std::unexpected("ip -n " + name + " link set lo up: " + up->err);
  return created;
}

std::expected<std::unique_ptr<apiserver_sim::ApiServerSim>, std::string> start_simulator_in(
    const std::string& netns, const apiserver_sim::Options& options) {
  using apiserver_sim::ApiServerSim;
  std::expected<std::unique_ptr<ApiServerSim>, std::string> sim = std::unexpected("not started");
  auto entered = run_in_network_namespace(netns, [&] { sim = ApiServerSim::start(options); });
  if (!entered) return std::unexpected(entered.error());
  if (!sim) return std::unexpected("the API server simulator: " + sim.error());
  return sim;
}

}  // namespace kubenat::bench
