#include "bench/daemon_log.h"

#include <cstdlib>

namespace kubenat::bench {
namespace {

// The digits at `text[at, at + count)` as a number; nullopt if any is not a digit.
std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// "..., 12.345000 ms" at the end of a sync line: the milliseconds.
std::optional<double> trailing_milliseconds(std::string_view message) {
  if (!message.ends_with(" ms")) return std::nullopt;
  message.remove_suffix(3);
  const std::size_t space = message.rfind(' ');
  const std::string number(message.substr(space == std::string_view::npos ? 0 : space + 1));
  char* end = nullptr;
  const double ms = std::strtod(number.c_str(), &end);
  if (end == number.c_str() || *end != '\0' || ms < 0) return std::nullopt;
  return ms;
}

std::chrono::nanoseconds from_milliseconds(double ms) {
  return std::chrono::nanoseconds(static_cast<long long>(ms * 1e6));
}

// "..., compiled in 1.234000 ms, 5.678000 ms": the compile's milliseconds.
std::optional<std::chrono::nanoseconds> compile_duration(std::string_view message) {
  constexpr std::string_view kCompiled = ", compiled in ";
  const std::size_t at = message.rfind(kCompiled);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = message.substr(at + kCompiled.size());
  const std::size_t unit = rest.find(" ms, ");
  if (unit == std::string_view::npos) return std::nullopt;
  auto ms = trailing_milliseconds(rest.substr(0, unit + 3));
  if (!ms) return std::nullopt;
  return from_milliseconds(*ms);
}

}  // namespace

std::optional<WallClock::time_point> parse_log_time(std::string_view line, int year) {
  // "I1205 06:30:15.123456 "
  if (line.size() < 22 || line[5] != ' ' || line[8] != ':' || line[11] != ':' || line[14] != '.' || line[21] != ' ') {
    return std::nullopt;
  }
  const auto month = digits(line, 1, 2), day = digits(line, 3, 2), hours = digits(line, 6, 2),
             minutes = digits(line, 9, 2), seconds = digits(line, 12, 2), micros = digits(line, 15, 6);
  if (!month || !day || !hours || !minutes || !seconds || !micros) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(*month)),
                                         std::chrono::day(static_cast<unsigned>(*day))};
  if (!date.ok()) return std::nullopt;
  return WallClock::time_point(std::chrono::sys_days(date).time_since_epoch()) + std::chrono::hours(*hours) +
         std::chrono::minutes(*minutes) + std::chrono::seconds(*seconds) + std::chrono::microseconds(*micros);
}

DaemonLog parse_daemon_log(std::string_view text, int year) {
  DaemonLog log;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    const auto time = parse_log_time(line, year);
    if (!time) continue;
    const std::string_view message = line.substr(22);
    if (line[0] == 'I' && message.starts_with("kubenat run: node ")) {
      if (!log.watch_started) log.watch_started = *time;
      continue;
    }
    LoggedSync sync;
    sync.end = *time;
    if (line[0] == 'I' && message.starts_with("partial sync: ")) {
      auto ms = trailing_milliseconds(message);
      if (!ms) continue;
      sync.duration = from_milliseconds(*ms);
      sync.compile_duration = compile_duration(message);
    } else if (line[0] == 'I' && message.starts_with("full sync (")) {
      auto ms = trailing_milliseconds(message);
      const std::size_t close = message.find("): ");
      if (!ms || close == std::string_view::npos) continue;
      sync.full = true;
      sync.reason = std::string(message.substr(11, close - 11));
      sync.duration = from_milliseconds(*ms);
      sync.compile_duration = compile_duration(message);
    } else if (line[0] == 'E' && message.starts_with("sync failed after ")) {
      // "sync failed after 12.000000 ms: <error>"
      const std::string_view rest = message.substr(18);
      const std::size_t unit = rest.find(" ms: ");
      if (unit == std::string_view::npos) continue;
      auto ms = trailing_milliseconds(rest.substr(0, unit + 3));
      if (!ms) continue;
      sync.ok = false;
      sync.duration = from_milliseconds(*ms);
    } else {
      continue;
    }
    log.syncs.push_back(std::move(sync));
  }
  return log;
}

}  // namespace kubenat::bench
