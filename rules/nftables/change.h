#pragma once

// What the kernel must do to go from one nftables plan to another: mostly
// set and map elements added and removed; chains and sets only when the
// layout grows or shrinks (a new endpoint count, a new session-affinity
// timeout).
// Applied as one netlink batch in this order, which keeps every reference
// valid at every step: sets added, chains added (declared, then filled),
// replaced chains flushed and refilled, elements removed, elements added,
// chains removed, sets removed.

#include <string>
#include <utility>
#include <vector>

#include "rules/nftables/plan.h"

namespace kubenat {

struct NftChange {
  IpFamily family = IpFamily::V4;
  std::string table = "kubenat";
  std::vector<NftSet> sets_added;
  std::vector<NftChain> chains_added;
  std::vector<NftChain> chains_replaced;
  std::vector<NftSetElement> elements_removed;
  std::vector<NftSetElement> elements_added;
  std::vector<std::string> chains_removed;
  std::vector<std::string> sets_removed;
  // The service ports whose rules changed, were added or removed.
  std::vector<ServicePortName> changed_service_ports;

  bool empty() const {
    return sets_added.empty() && chains_added.empty() && chains_replaced.empty() && elements_removed.empty() &&
           elements_added.empty() && chains_removed.empty() && sets_removed.empty();
  }
  bool operator==(const NftChange&) const = default;
};

}  // namespace kubenat
