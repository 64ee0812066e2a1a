#include "bench/progress_bar.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kubenat::bench {
namespace {

ProgressState three_of_nine() {
  ProgressState state;
  state.done = 3;
  state.total = 9;
  state.cell = "nftables, 10000 services";
  state.phase = "full sync 2/3";
  state.elapsed = std::chrono::seconds(61);
  return state;
}

TEST(RenderProgress, FillsTheBarByTheShareOfCellsDone) {
  const std::string line = render_progress(three_of_nine(), 120);  // room for the widest bar
  EXPECT_TRUE(line.starts_with("[##########....................] 3/9")) << line;
}

TEST(RenderProgress, NamesTheCellThePhaseAndTheElapsedTime) {
  EXPECT_NE(render_progress(three_of_nine(), 80).find("3/9 nftables, 10000 services: full sync 2/3, 1:01"),
            std::string::npos);
}

TEST(RenderProgress, NeverExceedsTheWidth) {
  EXPECT_LE(render_progress(three_of_nine(), 40).size(), 40u);
}

TEST(RenderProgress, ShowsHoursPastAnHour) {
  ProgressState state = three_of_nine();
  state.elapsed = std::chrono::seconds(3725);
  EXPECT_NE(render_progress(state, 100).find("1:02:05"), std::string::npos);
}

TEST(ProgressBar, WritesALinePerPhaseWhenNotATerminal) {
  std::ostringstream out;
  ProgressBar bar(out, false, 2);
  bar.start_cell("iptables, 1000 services");
  bar.phase("compile");
  bar.finish_cell("done");
  const std::string text = out.str();
  EXPECT_NE(text.find("0/2 iptables, 1000 services: compile"), std::string::npos) << text;
  EXPECT_NE(text.find("[1/2] iptables, 1000 services: done"), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST(ProgressBar, RedrawsOneLineOnATerminal) {
  std::ostringstream out;
  ProgressBar bar(out, true, 2);
  bar.start_cell("iptables, 1000 services");
  bar.phase("compile");
  EXPECT_EQ(out.str().find('\n'), std::string::npos);
  EXPECT_NE(out.str().find("\r\033[K"), std::string::npos);
}

}  // namespace
}  // namespace kubenat::bench
