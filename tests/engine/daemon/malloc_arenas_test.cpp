// The daemon's malloc arena limit (engine/daemon/malloc_arenas.h).

#include "engine/daemon/malloc_arenas.h"

#include <gtest/gtest.h>

namespace kubenat {
namespace {

TEST(MallocArenas, AreLimitedWhenMallocArenaMaxIsUnset) {
  // 8 (glibc's own per-core factor) leaves this test program much as it was.
  EXPECT_EQ(limit_malloc_arenas(8, nullptr), MallocArenas::Limited);
}

TEST(MallocArenas, AreLeftToMallocArenaMaxWhenTheOperatorSetIt) {
  EXPECT_EQ(limit_malloc_arenas(1, "4"), MallocArenas::LeftToTheEnvironment);
}

}  // namespace
}  // namespace kubenat
