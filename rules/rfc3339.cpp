#include "rules/rfc3339.h"

#include <charconv>
#include <cstdio>

namespace kubenat {

std::string format_rfc3339_nano(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto ns = time_point_cast<nanoseconds>(time);
  const auto day = floor<days>(ns);
  const year_month_day date{day};
  const hh_mm_ss clock_time{ns - day};
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock_time.hours().count()), static_cast<int>(clock_time.minutes().count()),
                static_cast<int>(clock_time.seconds().count()));
  std::string out = buffer;
  long long fraction = clock_time.subseconds().count();
  if (fraction != 0) {
    std::snprintf(buffer, sizeof buffer, ".%09lld", fraction);
    std::string digits = buffer;
    digits.erase(digits.find_last_not_of('0') + 1);
    out += digits;
  }
  return out + "Z";
}

namespace {

// Reads exactly `digits` decimal digits at `at`.
std::optional<int> digits_at(std::string_view text, std::size_t at, std::size_t digits) {
  if (at + digits > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + digits; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  // YYYY-MM-DDTHH:MM:SS
  const auto year = digits_at(text, 0, 4), month = digits_at(text, 5, 2), day = digits_at(text, 8, 2);
  const auto hour = digits_at(text, 11, 2), minute = digits_at(text, 14, 2), second = digits_at(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text.size() < 20 || text[4] != '-' || text[7] != '-' ||
      (text[10] != 'T' && text[10] != 't') || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  const year_month_day date{std::chrono::year{*year}, std::chrono::month{static_cast<unsigned>(*month)},
                            std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok() || *hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  nanoseconds fraction{0};
  std::size_t at = 19;
  if (text[at] == '.') {
    const std::size_t start = ++at;
    long long value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9' && at - start < 9)
      value = value * 10 + (text[at++] - '0');
    if (at == start || (at < text.size() && text[at] >= '0' && text[at] <= '9')) return std::nullopt;
    for (std::size_t scale = at - start; scale < 9; ++scale) value *= 10;
    fraction = nanoseconds(value);
  }
  minutes offset{0};
  if (at < text.size() && (text[at] == 'Z' || text[at] == 'z')) {
    ++at;
  } else if (at < text.size() && (text[at] == '+' || text[at] == '-')) {
    const auto hours_off = digits_at(text, at + 1, 2), minutes_off = digits_at(text, at + 4, 2);
    if (!hours_off || !minutes_off || at + 3 >= text.size() || text[at + 3] != ':') return std::nullopt;
    offset = minutes((*hours_off * 60 + *minutes_off) * (text[at] == '+' ? 1 : -1));
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  const auto local = sys_days(date) + hours(*hour) + minutes(*minute) + seconds(*second) + fraction;
  return time_point_cast<system_clock::duration>(local - offset);
}

}  // namespace kubenat
