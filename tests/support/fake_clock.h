#pragma once

// A clock that moves only when the test says so.

#include <chrono>

#include "engine/clock.h"

namespace kubenat::testing {

class FakeClock final : public Clock {
 public:
  time_point now() const override { return now_; }
  void advance(std::chrono::nanoseconds by) { now_ += by; }

 private:
  // Far from the epoch, so that "long ago" is representable.
  time_point now_ = time_point{} + std::chrono::hours(24 * 365);
};

}  // namespace kubenat::testing
