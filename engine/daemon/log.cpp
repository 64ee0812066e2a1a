#include "engine/daemon/log.h"

#include <chrono>
#include <ctime>
#include <iomanip>
#include <ostream>

namespace kubenat {

void Log::write(char severity, int level, const std::string& message) {
  if (level > verbosity_) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  std::lock_guard lock(mu_);
  out_ << severity << std::put_time(&tm, "%m%d %H:%M:%S") << '.' << std::setw(6) << std::setfill('0') << micros << ' '
       << message << '\n'
       << std::flush;
}

}  // namespace kubenat
