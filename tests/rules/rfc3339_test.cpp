// Times as Kubernetes writes them.

#include "rules/rfc3339.h"

#include <gtest/gtest.h>

namespace kubenat {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;

const system_clock::time_point kTime = sys_days(2024y / January / 2) + 3h + 4min + 5s;

TEST(FormatRfc3339Nano, TrimsTrailingZerosOfTheFraction) {
  EXPECT_EQ(format_rfc3339_nano(kTime), "2024-01-02T03:04:05Z");
  EXPECT_EQ(format_rfc3339_nano(kTime + 500ms), "2024-01-02T03:04:05.5Z");
  EXPECT_EQ(format_rfc3339_nano(kTime + 1ns), "2024-01-02T03:04:05.000000001Z");
}

TEST(ParseRfc3339, ReadsWhatFormatWrites) {
  for (auto time : {kTime, kTime + 500ms, kTime + 1ns, kTime + 123456789ns}) {
    EXPECT_EQ(parse_rfc3339(format_rfc3339_nano(time)), time) << format_rfc3339_nano(time);
  }
}

TEST(ParseRfc3339, ReadsOffsetsAndShortFractions) {
  EXPECT_EQ(parse_rfc3339("2024-01-02T05:04:05+02:00"), kTime);
  EXPECT_EQ(parse_rfc3339("2024-01-02T01:34:05.25-01:30"), kTime + 250ms);
}

TEST(ParseRfc3339, RejectsWhatIsNotATime) {
  for (const char* text : {"", "2024-01-02", "2024-01-02T03:04:05", "2024-13-02T03:04:05Z", "2024-02-30T03:04:05Z",
                           "2024-01-02T03:04:05.Z", "2024-01-02T03:04:05.1234567891Z", "2024-01-02T03:04:05Zx",
                           "2024-01-02 03:04:05Z", "2024-01-02T03:04:05+0200"}) {
    EXPECT_FALSE(parse_rfc3339(text)) << text;
  }
}

}  // namespace
}  // namespace kubenat
