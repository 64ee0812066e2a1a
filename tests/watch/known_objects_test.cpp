// The informer's compact record of what it has seen: resourceVersions
// compare as the strings they are, and what an object was reported as comes
// back exactly, whether derived from the key or stored in full.

#include "watch/known_objects.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace kubenat {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(KnownObjects, DecimalVersionMatchesOnlyItsOwnSpelling) {
  KnownObjects known;
  known.set("ns/web", "42", {{{"ns", "web"}, ""}});
  EXPECT_TRUE(known.has_version("ns/web", "42"));
  EXPECT_FALSE(known.has_version("ns/web", "042"));
  EXPECT_FALSE(known.has_version("ns/web", "43"));
  EXPECT_FALSE(known.has_version("ns/other", "42"));
}

TEST(KnownObjects, OpaqueVersionMatchesAsText) {
  KnownObjects known;
  known.set("ns/web", "007", {});
  EXPECT_TRUE(known.has_version("ns/web", "007"));
  EXPECT_FALSE(known.has_version("ns/web", "7"));
  known.set("ns/web", "18446744073709551615", {});
  EXPECT_TRUE(known.has_version("ns/web", "18446744073709551615"));
  known.set("ns/web", "abc", {});
  EXPECT_TRUE(known.has_version("ns/web", "abc"));
}

TEST(KnownObjects, EmptyVersionNeverMatches) {
  KnownObjects known;
  known.set("ns/web", "", {});
  EXPECT_TRUE(known.contains("ns/web"));
  EXPECT_FALSE(known.has_version("ns/web", ""));
}

TEST(KnownObjects, ServiceNodeAndSliceReportsComeBack) {
  KnownObjects known;
  known.set("ns/web", "1", {{{"ns", "web"}, ""}});
  known.set("worker-1", "2", {{{"", "worker-1"}, ""}});
  known.set("ns/web-abcde", "3", {{{"ns", "web"}, "web-abcde"}});
  EXPECT_THAT(known.reported("ns/web"), ElementsAre(ReportedObject{{"ns", "web"}, ""}));
  EXPECT_THAT(known.reported("worker-1"), ElementsAre(ReportedObject{{"", "worker-1"}, ""}));
  EXPECT_THAT(known.reported("ns/web-abcde"), ElementsAre(ReportedObject{{"ns", "web"}, "web-abcde"}));
}

TEST(KnownObjects, EndpointsReportedAsSeveralSlicesComeBackInOrder) {
  KnownObjects known;
  const std::vector<ReportedObject> slices = {{{"ns", "web"}, "web/subset-0-ipv4"}, {{"ns", "web"}, "web/subset-1-ipv6"}};
  known.set("ns/web", "5", slices);
  EXPECT_EQ(known.reported("ns/web"), slices);
}

TEST(KnownObjects, ObjectReportedAsNothingIsStillKnown) {
  KnownObjects known;
  known.set("ns/skipped", "9", {});
  EXPECT_TRUE(known.contains("ns/skipped"));
  EXPECT_THAT(known.reported("ns/skipped"), IsEmpty());
}

TEST(KnownObjects, EraseReturnsWhatWasReported) {
  KnownObjects known;
  known.set("ns/web-abcde", "3", {{{"ns", "web"}, "web-abcde"}});
  EXPECT_THAT(known.erase("ns/web-abcde"), ElementsAre(ReportedObject{{"ns", "web"}, "web-abcde"}));
  EXPECT_FALSE(known.contains("ns/web-abcde"));
  EXPECT_THAT(known.erase("ns/web-abcde"), IsEmpty());
}

TEST(KnownObjects, KeysNotSeenComeSorted) {
  KnownObjects known;
  for (const char* key : {"ns/c", "ns/a", "ns/b", "ns/d"}) known.set(key, "1", {});
  EXPECT_THAT(known.keys_not_in({"ns/b"}), ElementsAre("ns/a", "ns/c", "ns/d"));
}

}  // namespace
}  // namespace kubenat
