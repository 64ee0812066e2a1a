// Go's duration syntax, as kube-proxy's flags and config file use it.

#include "engine/daemon/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>

namespace kubenat {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::chrono::nanoseconds parsed(std::string_view text) {
  auto duration = parse_duration(text);
  EXPECT_TRUE(duration.has_value()) << text << ": " << (duration ? "" : duration.error());
  return duration.value_or(std::chrono::nanoseconds(-1));
}

std::string parse_error(std::string_view text) {
  auto duration = parse_duration(text);
  EXPECT_FALSE(duration.has_value()) << text << " parsed as " << (duration ? duration->count() : 0) << "ns";
  return duration ? std::string() : duration.error();
}

TEST(ParseDuration, ReadsSeconds) { EXPECT_EQ(parsed("30s"), 30s); }

TEST(ParseDuration, ReadsGoStringFormOfAMinute) { EXPECT_EQ(parsed("1m0s"), 1min); }

TEST(ParseDuration, ReadsMilliseconds) { EXPECT_EQ(parsed("500ms"), 500ms); }

TEST(ParseDuration, ReadsHours) { EXPECT_EQ(parsed("1h"), 1h); }

TEST(ParseDuration, ReadsSeveralUnitsInARow) { EXPECT_EQ(parsed("1h30m10.5s"), 1h + 30min + 10500ms); }

TEST(ParseDuration, ReadsFractions) {
  EXPECT_EQ(parsed("1.5s"), 1500ms);
  EXPECT_EQ(parsed(".5s"), 500ms);
  EXPECT_EQ(parsed("1.s"), 1s);
}

TEST(ParseDuration, ReadsNanosecondsAndAllThreeMicrosecondSpellings) {
  EXPECT_EQ(parsed("7ns"), 7ns);
  EXPECT_EQ(parsed("3us"), 3us);
  EXPECT_EQ(parsed("3\u00b5s"), 3us);
  EXPECT_EQ(parsed("3\u03bcs"), 3us);
}

TEST(ParseDuration, ReadsBareZero) { EXPECT_EQ(parsed("0"), 0ns); }

TEST(ParseDuration, ReadsSigns) {
  EXPECT_EQ(parsed("-1.5h"), -90min);
  EXPECT_EQ(parsed("+2s"), 2s);
}

TEST(ParseDuration, ReadsTheExtremes) {
  EXPECT_EQ(parsed("2562047h47m16.854775807s"), std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(parsed("-2562047h47m16.854775808s"), std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min()));
}

TEST(ParseDuration, RejectsANumberWithoutUnit) {
  EXPECT_EQ(parse_error("10"), "missing unit in duration \"10\"");
}

TEST(ParseDuration, RejectsAnUnknownUnit) {
  EXPECT_EQ(parse_error("1d"), "unknown unit \"d\" in duration \"1d\"");
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* text : {"", "-", "abc", "s", ".s", "1s2", "1.2.3s", " 1s", "1s "}) {
    EXPECT_THAT(parse_error(text), HasSubstr("duration \"" + std::string(text) + "\"")) << text;
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_EQ(parse_error("9999999999h"), "invalid duration \"9999999999h\"");
  EXPECT_EQ(parse_error("2562047h47m16.854775808s"), "invalid duration \"2562047h47m16.854775808s\"");
}

TEST(FormatDuration, WritesWhatGoWrites) {
  EXPECT_EQ(format_duration(0ns), "0s");
  EXPECT_EQ(format_duration(1ns), "1ns");
  EXPECT_EQ(format_duration(1100ns), "1.1\u00b5s");
  EXPECT_EQ(format_duration(2200us), "2.2ms");
  EXPECT_EQ(format_duration(500ms), "500ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(1min), "1m0s");
  EXPECT_EQ(format_duration(1500ms), "1.5s");
  EXPECT_EQ(format_duration(1h + 2min + 3s + 500ms), "1h2m3.5s");
  EXPECT_EQ(format_duration(1h), "1h0m0s");
  EXPECT_EQ(format_duration(-1s), "-1s");
  EXPECT_EQ(format_duration(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min())),
            "-2562047h47m16.854775808s");
}

TEST(FormatDuration, RoundTripsThroughParse) {
  for (const std::chrono::nanoseconds d :
       {std::chrono::nanoseconds(0), std::chrono::nanoseconds(1), std::chrono::nanoseconds(999'999),
        std::chrono::nanoseconds(1'000'001), std::chrono::nanoseconds(61'000'000'001),
        std::chrono::nanoseconds(-7'200'000'000'000), std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max())}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << format_duration(d);
  }
}

}  // namespace
}  // namespace kubenat
