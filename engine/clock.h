#pragma once

// Time, behind an interface: the engine owns the clock, and tests drive it.

#include <chrono>

namespace kubenat {

class Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
};

}  // namespace kubenat
