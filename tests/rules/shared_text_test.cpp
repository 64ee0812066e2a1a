// Shared immutable text (an endpoint's node name and zone) reads and compares
// as the string it holds; a pool hands out one block per distinct text and
// lets go of texts nobody holds.

#include "rules/shared_text.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "rules/model.h"

namespace kubenat {
namespace {

TEST(SharedText, ReadsAndComparesAsItsText) {
  const SharedText text("worker-1");
  EXPECT_EQ(text, "worker-1");
  EXPECT_EQ(text, std::string("worker-1"));
  EXPECT_NE(text, "worker-2");
  EXPECT_EQ(text.view(), "worker-1");
  EXPECT_EQ(text.str(), "worker-1");
  EXPECT_FALSE(text.empty());
}

TEST(SharedText, EmptyTextHoldsNothing) {
  const SharedText none;
  const SharedText empty("");
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(none, "");
  EXPECT_EQ(none, empty);
  EXPECT_EQ(empty.use_count(), 0);
}

TEST(SharedText, EqualTextsInSeparateBlocksAreEqual) {
  EXPECT_EQ(SharedText("zone-a"), SharedText("zone-a"));
  EXPECT_NE(SharedText("zone-a"), SharedText("zone-b"));
}

TEST(SharedText, CopiesShareTheBlockAndMovesTakeIt) {
  SharedText text("worker-1");
  SharedText copy = text;
  EXPECT_EQ(text.use_count(), 2);
  SharedText moved = std::move(copy);
  EXPECT_EQ(text.use_count(), 2);
  moved = "worker-2";
  EXPECT_EQ(text.use_count(), 1);
  EXPECT_EQ(moved, "worker-2");
}

TEST(SharedTextPool, EqualTextsShareOneBlock) {
  SharedTextPool pool;
  const SharedText a = pool.intern("worker-1");
  const SharedText b = pool.intern("worker-1");
  EXPECT_EQ(a.use_count(), 3);  // a, b and the pool
  EXPECT_EQ(pool.size(), 1u);
  EXPECT_TRUE(pool.intern("").empty());
  EXPECT_EQ(pool.size(), 1u);
}

TEST(SharedTextPool, TextsNobodyHoldsAreDroppedAsThePoolGrows) {
  SharedTextPool pool;
  const SharedText kept = pool.intern("kept");
  for (int i = 0; i < 5000; ++i) (void)pool.intern("node-" + std::to_string(i));
  EXPECT_LT(pool.size(), 2100u);
  EXPECT_EQ(pool.intern("kept").use_count(), 3);  // kept, the pool and the temporary
}

TEST(Endpoint, FitsInFortyEightBytes) {
  // A million endpoints at 100,000 Services x 10 (issue 15).
  EXPECT_LE(sizeof(Endpoint), 48u);
}

TEST(Endpoint, ComparesByContent) {
  Endpoint a;
  a.node_name = "worker-1";
  a.hints = EndpointHints({"zone-a"}, {});
  Endpoint b = a;
  EXPECT_EQ(a, b);
  SharedTextPool pool;
  b.node_name = pool.intern("worker-1");
  b.hints = EndpointHints({"zone-a"}, {});
  EXPECT_EQ(a, b);
  b.hints = EndpointHints({}, {"zone-a"});
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace kubenat
