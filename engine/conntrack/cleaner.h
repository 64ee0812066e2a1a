#pragma once

// Deleting conntrack entries, behind an interface: the real one runs the
// conntrack tool, tests record the filters.

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "engine/sync_result.h"
#include "rules/conntrack_cleanup.h"

namespace kubenat {

class ConntrackCleaner {
 public:
  virtual ~ConntrackCleaner() = default;
  // Deletes the UDP entries matching the filter; finding none is success.
  // Returns how many were deleted when the tool says.
  [[nodiscard]] virtual std::expected<std::size_t, std::string> remove(const ConntrackFilter& filter) = 0;
};

// Deletes the entries of every filter, timed; what could not be deleted
// goes to `warnings` (the entries time out in the end: never a failure).
ConntrackCleanup clean_stale_flows(ConntrackCleaner& cleaner, const std::vector<ConntrackFilter>& filters,
                                   std::vector<std::string>& warnings);

// `conntrack -D -p udp ...`, inside `netns` when one is given.
class ProcessConntrackCleaner final : public ConntrackCleaner {
 public:
  explicit ProcessConntrackCleaner(std::optional<std::string> netns = std::nullopt) : netns_(std::move(netns)) {}
  std::expected<std::size_t, std::string> remove(const ConntrackFilter& filter) override;

 private:
  std::optional<std::string> netns_;
};

}  // namespace kubenat
