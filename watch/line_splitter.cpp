#include "watch/line_splitter.h"

namespace kubenat {

std::expected<bool, std::string> LineSplitter::feed(std::string_view bytes, const LineHandler& on_line) {
  // Only the new bytes can hold a '\n': the pending ones were searched.
  const std::size_t scan_from = pending_.size();
  pending_.append(bytes);
  std::size_t line_start = 0;
  for (std::size_t newline = pending_.find('\n', scan_from); newline != std::string::npos;
       newline = pending_.find('\n', line_start)) {
    std::string_view line(pending_.data() + line_start, newline - line_start);
    if (line.ends_with('\r')) line.remove_suffix(1);
    line_start = newline + 1;
    if (!on_line(line)) return false;
  }
  pending_.erase(0, line_start);
  if (pending_.size() > max_line_bytes_) {
    return std::unexpected("a line longer than " + std::to_string(max_line_bytes_) + " bytes");
  }
  return true;
}

bool LineSplitter::finish(const LineHandler& on_line) {
  if (pending_.ends_with('\r')) pending_.pop_back();
  if (pending_.empty()) return true;
  const std::string last = std::move(pending_);
  pending_.clear();
  return on_line(last);
}

}  // namespace kubenat
