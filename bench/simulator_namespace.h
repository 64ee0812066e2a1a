#pragma once

// The setting of the scenarios that run `kubenat run` (the soak, the daemon
// scenario): an empty network namespace with its loopback up, and the API
// server simulator, in this process, listening on that loopback.

#include <expected>
#include <memory>
#include <string>

#include "engine/network_namespace.h"
#include "tools/apiserver_sim/apiserver_sim.h"

namespace kubenat::bench {

// Creates namespace `name` and brings its loopback up: the simulator and the
// daemon's /metrics listen there.
[[nodiscard]] std::expected<ScopedNetworkNamespace, std::string> make_loopback_namespace(const std::string& name);

// Starts the simulator on the loopback of namespace `netns`: a socket belongs
// to the namespace it was made in, and the simulator makes its listening
// socket (and its threads) in start().
[[nodiscard]] std::expected<std::unique_ptr<apiserver_sim::ApiServerSim>, std::string> start_simulator_in(
    const std::string& netns, const apiserver_sim::Options& options = {});

}  // namespace kubenat::bench
