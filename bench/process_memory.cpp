#include "bench/process_memory.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace kubenat::bench {
namespace {

// The number after "Name:" on its line of /proc/<pid>/status, or nullopt.
std::optional<double> field(std::string_view status, std::string_view name) {
  std::size_t at = 0;
  while (at < status.size()) {
    std::size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    const std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (!line.starts_with(name) || line.size() <= name.size() || line[name.size()] != ':') continue;
    const std::string value(line.substr(name.size() + 1));
    char* parsed_end = nullptr;
    const double number = std::strtod(value.c_str(), &parsed_end);
    if (parsed_end == value.c_str()) return std::nullopt;
    return number;
  }
  return std::nullopt;
}

}  // namespace

std::expected<ProcessMemory, std::string> parse_process_status(std::string_view status) {
  ProcessMemory memory;
  struct Wanted {
    std::string_view name;
    double* target;
    double scale;
  };
  double threads = 0;
  const Wanted wanted[] = {{"VmRSS", &memory.rss_mib, 1.0 / 1024},
                           {"VmHWM", &memory.hwm_mib, 1.0 / 1024},
                           {"RssAnon", &memory.rss_anon_mib, 1.0 / 1024},
                           {"Threads", &threads, 1}};
  for (const Wanted& w : wanted) {
    const std::optional<double> value = field(status, w.name);
    if (!value) return std::unexpected("no " + std::string(w.name) + " in the process status");
    *w.target = *value * w.scale;
  }
  memory.threads = static_cast<int>(threads);
  return memory;
}

std::expected<ProcessMemory, std::string> read_process_memory(int pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream file(dir + "/status");
  if (!file) return std::unexpected("cannot read " + dir + "/status");
  std::stringstream text;
  text << file.rdbuf();
  auto memory = parse_process_status(text.str());
  if (!memory) return std::unexpected(dir + "/status: " + memory.error());
  std::error_code ec;
  int fds = 0;
  for (auto it = std::filesystem::directory_iterator(dir + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  if (!ec) memory->open_fds = fds;
  return memory;
}

std::expected<ProcessCpu, std::string> parse_process_stat_cpu(std::string_view stat, long ticks_per_second) {
  if (ticks_per_second <= 0) return std::unexpected("no clock ticks per second");
  // The command name (field 2) is in parentheses and may hold spaces and
  // parentheses itself: the fields are counted from the last ')'.
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return std::unexpected("no command name in the process stat");
  std::istringstream fields{std::string(stat.substr(close + 1))};
  std::vector<std::string> after;  // field 3 (state) onwards
  for (std::string field; after.size() < 15 && fields >> field;) after.push_back(field);
  if (after.size() < 15) return std::unexpected("the process stat ends before cstime (field 17)");
  double ticks[4] = {};  // utime, stime, cutime, cstime: fields 14 to 17
  for (int i = 0; i < 4; ++i) {
    const std::string& text = after[static_cast<std::size_t>(11 + i)];
    char* end = nullptr;
    ticks[i] = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || *end != '\0') {
      return std::unexpected("field " + std::to_string(14 + i) + " of the process stat is not a number: " + text);
    }
  }
  const double per_tick = 1.0 / static_cast<double>(ticks_per_second);
  return ProcessCpu{.own_seconds = (ticks[0] + ticks[1]) * per_tick,
                    .children_seconds = (ticks[2] + ticks[3]) * per_tick};
}

std::expected<ProcessCpu, std::string> read_process_cpu(int pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  std::ifstream file(path);
  if (!file) return std::unexpected("cannot read " + path);
  std::stringstream text;
  text << file.rdbuf();
  auto cpu = parse_process_stat_cpu(text.str(), ::sysconf(_SC_CLK_TCK));
  if (!cpu) return std::unexpected(path + ": " + cpu.error());
  return cpu;
}

}  // namespace kubenat::bench
