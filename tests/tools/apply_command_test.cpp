// kubenat apply's command line (applying itself needs root: tests/e2e runs
// every traffic scenario through it).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "tools/kubenat/commands.h"

namespace kubenat {
namespace {

using ::testing::HasSubstr;

int apply(std::vector<std::string> args, std::string& out, std::string& err) {
  std::ostringstream o, e;
  const int status = apply_command(args, o, e);
  out = o.str();
  err = e.str();
  return status;
}

TEST(ApplyCommand, ProxyModeChoosesTheBackend) {
  std::string out, err;
  EXPECT_EQ(apply({"--help"}, out, err), 0);
  EXPECT_THAT(out, HasSubstr("--proxy-mode"));
  EXPECT_THAT(out, HasSubstr("nftables"));
}

TEST(ApplyCommand, ProxyModeOtherThanIptablesOrNftablesIsBadUsage) {
  for (const std::string mode : {"none", "ipvs", ""}) {
    std::string out, err;
    EXPECT_EQ(apply({"--proxy-mode", mode, "--snapshot", KUBENAT_SOURCE_DIR "/tools/examples/cluster.json", "--node",
                     "worker-1"},
                    out, err),
              2)
        << mode;
    EXPECT_THAT(err, HasSubstr("--proxy-mode: expects iptables or nftables")) << mode;
  }
}

}  // namespace
}  // namespace kubenat
