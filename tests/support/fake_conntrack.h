#pragma once

// A ConntrackCleaner that records the filters it is given, and can be told
// to fail.

#include <optional>
#include <string>
#include <vector>

#include "engine/conntrack/cleaner.h"

namespace kubenat::testing {

class FakeConntrack final : public ConntrackCleaner {
 public:
  std::expected<std::size_t, std::string> remove(const ConntrackFilter& filter) override {
    removed_.push_back(filter);
    if (failure_) return std::unexpected(*failure_);
    return 0;
  }

  // Every later remove() fails with `message` (the filter is still recorded).
  void fail_with(std::string message) { failure_ = std::move(message); }

  // Every filter given to remove(), in order.
  const std::vector<ConntrackFilter>& removed() const { return removed_; }
  void clear() { removed_.clear(); }

 private:
  std::vector<ConntrackFilter> removed_;
  std::optional<std::string> failure_;
};

}  // namespace kubenat::testing
