#include "bench/progress_bar.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>

namespace kubenat::bench {
namespace {

std::string clock_text(std::chrono::seconds elapsed) {
  const long total = elapsed.count();
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
  }
  return text;
}

int terminal_width() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 100;
}

}  // namespace

std::string render_progress(const ProgressState& state, int width) {
  const std::string counter = std::to_string(state.done) + "/" + std::to_string(state.total);
  std::string text = " " + counter + " " + state.cell;
  if (!state.phase.empty()) text += ": " + state.phase;
  text += ", " + clock_text(state.elapsed);
  // The bar takes what the text leaves, between 10 and 30 cells.
  const int bar = std::clamp(width - static_cast<int>(text.size()) - 2, 10, 30);
  const int filled = state.total > 0 ? bar * std::clamp(state.done, 0, state.total) / state.total : 0;
  std::string line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
                     std::string(static_cast<std::size_t>(bar - filled), '.') + "]" + text;
  if (width > 0 && static_cast<int>(line.size()) > width) line.resize(static_cast<std::size_t>(width));
  return line;
}

ProgressBar::ProgressBar(std::ostream& out, bool interactive, int total)
    : out_(out), interactive_(interactive), started_(std::chrono::steady_clock::now()) {
  state_.total = total;
  if (interactive_) width_ = terminal_width() - 1;
}

void ProgressBar::start_cell(std::string cell) {
  state_.cell = std::move(cell);
  state_.phase.clear();
  draw();
}

void ProgressBar::phase(std::string_view phase) {
  state_.phase = std::string(phase);
  draw();
}

void ProgressBar::tick() {
  if (interactive_) draw();
}

void ProgressBar::finish_cell(std::string_view outcome) {
  ++state_.done;
  state_.elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  if (interactive_) out_ << "\r\033[K";
  out_ << "[" << state_.done << "/" << state_.total << "] " << state_.cell << ": " << outcome << " ("
       << clock_text(state_.elapsed) << ")\n";
  out_.flush();
}

void ProgressBar::finish() {
  if (interactive_) out_ << "\r\033[K";
  out_.flush();
}

void ProgressBar::draw() {
  state_.elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  if (interactive_) {
    out_ << "\r\033[K" << render_progress(state_, width_);
  } else {
    out_ << render_progress(state_, 0) << "\n";
  }
  out_.flush();
}

}  // namespace kubenat::bench
