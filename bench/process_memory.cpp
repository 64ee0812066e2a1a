#include "bench/process_memory.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

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

}  // namespace kubenat::bench
