// NftSetName: a set's name in 8 bytes reads back as the name it was given,
// known or not, and compares and orders as the strings do, so plans sorted
// by it come out the same.

#include "rules/nftables/set_name.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kubenat {
namespace {

// Known names, numbered ones, names that only look numbered, and others.
const std::vector<std::string> kNames = {"",
                                         "affinity",
                                         "affinity-destinations-10800",
                                         "affinity-destinations-",
                                         "affinity-destinations-010",
                                         "affinity-destinations-4294967295",
                                         "affinity-destinations-4294967296",
                                         "affinity-nodeports-1",
                                         "cluster-count-3",
                                         "cluster-count-16",
                                         "cluster-count-+3",
                                         "cluster-count-3x",
                                         "cluster-endpoints",
                                         "hairpin",
                                         "local-count-0",
                                         "nodeport-cluster-count-1000",
                                         "nodeport-local-destinations",
                                         "no-local-endpoint-nodeports",
                                         "service-ips",
                                         "s",
                                         "a-set-name-no-compiler-makes-that-is-long"};

TEST(NftSetName, IsEightBytes) { EXPECT_EQ(sizeof(NftSetName), 8u); }

TEST(NftSetName, ReadsBackTheNameItWasGiven) {
  for (const std::string& name : kNames) {
    EXPECT_EQ(NftSetName(name).str(), name);
    EXPECT_EQ(std::string(NftSetName(name)), name);
  }
}

TEST(NftSetName, ComparesAndOrdersAsTheStringsDo) {
  for (const std::string& a : kNames) {
    for (const std::string& b : kNames) {
      EXPECT_EQ(NftSetName(a) == NftSetName(b), a == b) << a << " " << b;
      EXPECT_EQ(NftSetName(a) <=> NftSetName(b), a <=> b) << a << " " << b;
    }
  }
}

TEST(NftSetName, CopiesAndMovesKeepTheName) {
  for (const std::string& name : kNames) {
    const NftSetName original(name);
    NftSetName copy = original;
    EXPECT_EQ(copy.str(), name);
    NftSetName assigned("other");
    assigned = copy;
    EXPECT_EQ(assigned.str(), name);
    NftSetName moved = std::move(copy);
    EXPECT_EQ(moved.str(), name);
    assigned = std::move(moved);
    EXPECT_EQ(assigned.str(), name);
    EXPECT_EQ(original, assigned);
  }
}

TEST(NftSetName, SortsAsTheStringsDo) {
  std::vector<std::string> strings = kNames;
  std::vector<NftSetName> names(kNames.begin(), kNames.end());
  std::sort(strings.begin(), strings.end());
  std::sort(names.begin(), names.end());
  std::vector<std::string> read;
  for (const NftSetName& name : names) read.push_back(name.str());
  EXPECT_EQ(read, strings);
}

}  // namespace
}  // namespace kubenat
