// The watch stream's framing (watch/line_splitter.h): lines cut at '\n'
// whatever the pieces the body arrives in, '\r\n' as '\n', the last line
// without '\n', stopping, and the maximum length of an unfinished line.

#include "watch/line_splitter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class LineSplitterTest : public ::testing::Test {
 protected:
  // Feeds each piece in turn, then finishes; false at the first piece that
  // does not go on.
  bool feed_all(LineSplitter& splitter, const std::vector<std::string>& pieces) {
    for (const std::string& piece : pieces) {
      auto more = splitter.feed(piece, record);
      if (!more || !*more) return false;
    }
    return splitter.finish(record);
  }

  std::vector<std::string> lines;
  LineHandler record = [this](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
};

TEST_F(LineSplitterTest, CutsOnePieceIntoItsLines) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"one\ntwo\nthree\n"}));
  EXPECT_THAT(lines, ElementsAre("one", "two", "three"));
}

TEST_F(LineSplitterTest, JoinsALineSplitAcrossPieces) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"o", "ne\ntw", "", "o", "\n"}));
  EXPECT_THAT(lines, ElementsAre("one", "two"));
}

TEST_F(LineSplitterTest, DeliversALineAsSoonAsItsNewlineArrives) {
  LineSplitter splitter(1024);
  ASSERT_EQ(splitter.feed("first\nsec", record), true);
  EXPECT_THAT(lines, ElementsAre("first"));
}

TEST_F(LineSplitterTest, DropsTheCarriageReturnBeforeTheNewline) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"one\r", "\ntwo\r\n", "a\rb\n"}));
  EXPECT_THAT(lines, ElementsAre("one", "two", "a\rb"));
}

TEST_F(LineSplitterTest, DeliversEmptyLinesBetweenNewlines) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"\n\r\nx\n"}));
  EXPECT_THAT(lines, ElementsAre("", "", "x"));
}

TEST_F(LineSplitterTest, FinishDeliversTheLastLineWithoutNewline) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"one\nlast\r"}));
  EXPECT_THAT(lines, ElementsAre("one", "last"));
}

TEST_F(LineSplitterTest, FinishDeliversNothingAfterAFinalNewline) {
  LineSplitter splitter(1024);
  EXPECT_TRUE(feed_all(splitter, {"one\n", "\r"}));
  EXPECT_THAT(lines, ElementsAre("one"));
}

TEST_F(LineSplitterTest, StopsAtTheLineTheHandlerRefuses) {
  LineSplitter splitter(1024);
  auto more = splitter.feed("one\ntwo\nthree\n", [&](std::string_view line) {
    lines.emplace_back(line);
    return line != "two";
  });
  EXPECT_EQ(more, false);
  EXPECT_THAT(lines, ElementsAre("one", "two"));
}

TEST_F(LineSplitterTest, FinishReturnsWhatTheHandlerReturnedForTheLastLine) {
  LineSplitter splitter(1024);
  ASSERT_EQ(splitter.feed("last", record), true);
  EXPECT_FALSE(splitter.finish([](std::string_view) { return false; }));
}

TEST_F(LineSplitterTest, AnUnfinishedLineLongerThanTheMaximumIsAnError) {
  LineSplitter splitter(8);
  ASSERT_EQ(splitter.feed("12345678", record), true);
  auto more = splitter.feed("9", record);
  ASSERT_FALSE(more.has_value());
  EXPECT_EQ(more.error(), "a line longer than 8 bytes");
  EXPECT_THAT(lines, IsEmpty());
}

TEST_F(LineSplitterTest, TheMaximumCountsOnlyTheUnfinishedLine) {
  LineSplitter splitter(8);
  EXPECT_TRUE(feed_all(splitter, {"1234567\n12345678", "\n"}));
  EXPECT_THAT(lines, ElementsAre("1234567", "12345678"));
}

TEST_F(LineSplitterTest, AnExceptionFromTheHandlerPropagates) {
  LineSplitter splitter(1024);
  EXPECT_THROW((void)splitter.feed("x\n", [](std::string_view) -> bool { throw std::runtime_error("listener"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace kubenat
