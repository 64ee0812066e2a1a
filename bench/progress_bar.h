#pragma once

// The progress display of `kubenat bench`: on a terminal one line redrawn
// in place ("[#####.....] 3/9 nftables, 10000 services: full sync 2/3, 0:41"),
// elsewhere (a log, CI) a line per phase.

#include <chrono>
#include <iosfwd>
#include <string>
#include <string_view>

namespace kubenat::bench {

struct ProgressState {
  int done = 0;   // cells finished
  int total = 0;  // cells in the bench
  std::string cell;   // "nftables, 10000 services"
  std::string phase;  // "full sync 2/3"
  std::chrono::seconds elapsed{0};  // since the bench started
};

// The line for `state`, at most `width` characters (the bar shrinks first,
// then the text is cut).
std::string render_progress(const ProgressState& state, int width);

class ProgressBar {
 public:
  // `interactive`: redraw one line with carriage returns.
  ProgressBar(std::ostream& out, bool interactive, int total);

  void start_cell(std::string cell);
  void phase(std::string_view phase);
  // Redraws the elapsed time on a terminal; nothing otherwise.
  void tick();
  // `outcome`: "done" or what failed; printed on a line of its own.
  void finish_cell(std::string_view outcome);
  // Clears the line on a terminal.
  void finish();

 private:
  void draw();

  std::ostream& out_;
  bool interactive_;
  ProgressState state_;
  std::chrono::steady_clock::time_point started_;
  int width_ = 100;
};

}  // namespace kubenat::bench
