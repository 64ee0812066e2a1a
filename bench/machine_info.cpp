#include "bench/machine_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/process.h"

namespace kubenat::bench {
namespace {

std::string first_value(const std::string& path, std::string_view key) {
  std::ifstream file(path);
  for (std::string line; std::getline(file, line);) {
    if (!line.starts_with(key)) continue;
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    const std::size_t begin = value.find_first_not_of(" \t");
    return begin == std::string::npos ? std::string() : value.substr(begin);
  }
  return {};
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

std::string MachineInfo::summary() const {
  std::ostringstream out;
  out << (cpu.empty() ? "unknown CPU" : cpu) << ", " << cpus << " CPUs";
  char memory[32];
  std::snprintf(memory, sizeof memory, "%.1f GiB", memory_gib);
  out << ", " << memory << ", Linux " << kernel;
  if (!iptables.empty()) out << ", " << iptables;
  return out.str();
}

MachineInfo describe_machine() {
  MachineInfo info;
  info.cpu = first_value("/proc/cpuinfo", "model name");
  info.cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  const std::string mem_total = first_value("/proc/meminfo", "MemTotal");  // "24567892 kB"
  info.memory_gib = std::strtod(mem_total.c_str(), nullptr) / (1024.0 * 1024.0);
  utsname names{};
  if (::uname(&names) == 0) {
    info.kernel = names.release;
    info.hostname = names.nodename;
  }
  info.date = utc_now();
  if (auto version = run_process({"iptables-nft", "--version"}, ProcessOptions{.input = {}, .timeout = std::chrono::seconds(10)});
      version && version->ok()) {
    info.iptables = version->out.substr(0, version->out.find('\n'));
  }
  return info;
}

}  // namespace kubenat::bench
