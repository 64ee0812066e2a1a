// PackedBytes: a 16-byte byte string that keeps up to 15 bytes inline and
// longer ones in a heap block, and reads, copies and compares as its bytes.

#include "rules/nftables/packed_bytes.h"

#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "rules/nftables/values.h"

namespace kubenat {
namespace {

const std::string kFifteen = "abcdefghijklmno";
const std::string kSixteen = "abcdefghijklmnop";
const std::string kLong = std::string("with\0nul", 8) + std::string(40, '\xff');

TEST(PackedBytes, IsEmptyWhenDefaultConstructed) {
  const PackedBytes bytes;
  EXPECT_TRUE(bytes.empty());
  EXPECT_EQ(bytes.size(), 0u);
  EXPECT_EQ(bytes.view(), "");
  EXPECT_FALSE(bytes.on_heap());
}

TEST(PackedBytes, KeepsFifteenBytesInline) {
  const PackedBytes bytes(kFifteen);
  EXPECT_FALSE(bytes.on_heap());
  EXPECT_EQ(bytes.size(), 15u);
  EXPECT_EQ(bytes.view(), kFifteen);
}

TEST(PackedBytes, KeepsSixteenBytesOnTheHeap) {
  const PackedBytes bytes(kSixteen);
  EXPECT_TRUE(bytes.on_heap());
  EXPECT_EQ(bytes.size(), 16u);
  EXPECT_EQ(bytes.view(), kSixteen);
}

TEST(PackedBytes, KeepsEveryByteValueIncludingNulAndHighBytes) {
  const std::string inline_bytes("\0\x80\xff", 3);
  EXPECT_EQ(PackedBytes(inline_bytes).view(), inline_bytes);
  EXPECT_EQ(PackedBytes(kLong).view(), kLong);
}

TEST(PackedBytes, ReadsSingleBytesByIndex) {
  const PackedBytes short_bytes("xyz");
  EXPECT_EQ(short_bytes[2], 'z');
  const PackedBytes long_bytes(kLong);
  EXPECT_EQ(long_bytes[4], '\0');
  EXPECT_EQ(long_bytes[kLong.size() - 1], '\xff');
}

TEST(PackedBytes, AppendingAcrossTheFifteenByteBoundaryMovesTheBytesToTheHeap) {
  PackedBytes bytes(kFifteen.substr(0, 14));
  bytes.push_back('o');
  EXPECT_FALSE(bytes.on_heap());
  EXPECT_EQ(bytes.view(), kFifteen);
  bytes.push_back('p');
  EXPECT_TRUE(bytes.on_heap());
  EXPECT_EQ(bytes.view(), kSixteen);
  bytes.append("qrs");
  EXPECT_EQ(bytes.view(), kSixteen + "qrs");
}

TEST(PackedBytes, AppendingItsOwnBytesDoublesThem) {
  PackedBytes small("abcdefgh");
  small.append(small.view());
  EXPECT_EQ(small.view(), "abcdefghabcdefgh");
  PackedBytes large(kSixteen);
  large.append(large.view());
  EXPECT_EQ(large.view(), kSixteen + kSixteen);
}

TEST(PackedBytes, AppendingNothingChangesNothing) {
  PackedBytes bytes("ab");
  bytes.append("");
  EXPECT_EQ(bytes.view(), "ab");
}

TEST(PackedBytes, CopiesAreIndependentOfTheOriginal) {
  for (const std::string& text : {kFifteen, kLong}) {
    PackedBytes original(text);
    const PackedBytes copy(original);
    original.append("more");
    EXPECT_EQ(copy.view(), text);
    EXPECT_EQ(original.view(), text + "more");
  }
}

TEST(PackedBytes, CopyAssignmentReplacesInlineAndHeapBytes) {
  PackedBytes target(kLong);
  target = PackedBytes("short");
  EXPECT_EQ(target.view(), "short");
  const PackedBytes source(kSixteen);
  target = source;
  EXPECT_EQ(target.view(), kSixteen);
  EXPECT_EQ(source.view(), kSixteen);
}

TEST(PackedBytes, MovingLeavesTheSourceEmpty) {
  for (const std::string& text : {kFifteen, kLong}) {
    PackedBytes source(text);
    const PackedBytes moved(std::move(source));
    EXPECT_EQ(moved.view(), text);
    EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    PackedBytes target(kSixteen);
    target = PackedBytes(text);
    EXPECT_EQ(target.view(), text);
  }
}

TEST(PackedBytes, SelfAssignmentKeepsTheBytes) {
  for (const std::string& text : {kFifteen, kLong}) {
    PackedBytes bytes(text);
    PackedBytes& same = bytes;
    bytes = same;
    EXPECT_EQ(bytes.view(), text);
    bytes = std::move(same);
    EXPECT_EQ(bytes.view(), text);
  }
}

TEST(PackedBytes, EqualsByContentWhereverTheBytesLive) {
  EXPECT_EQ(PackedBytes(kLong), PackedBytes(kLong));
  EXPECT_EQ(PackedBytes("abc"), PackedBytes("abc"));
  EXPECT_NE(PackedBytes("abc"), PackedBytes("abd"));
  EXPECT_NE(PackedBytes("abc"), PackedBytes("ab"));
  EXPECT_NE(PackedBytes(kFifteen), PackedBytes(kSixteen));
  EXPECT_EQ(PackedBytes(), PackedBytes(""));
  PackedBytes grown(kFifteen);
  grown.push_back('p');
  EXPECT_EQ(grown, PackedBytes(kSixteen));
}

TEST(PackedBytes, MakesAnNftValuesSixteenBytes) { EXPECT_EQ(sizeof(NftValues), 16u); }

}  // namespace
}  // namespace kubenat
