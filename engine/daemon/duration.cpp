#include "engine/daemon/duration.h"

#include <array>
#include <cstdint>
#include <limits>

namespace kubenat {
namespace {

constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|

struct Unit {
  std::string_view name;
  std::uint64_t nanoseconds;
};

// "µs" is U+00B5 (micro sign), "μs" U+03BC (Greek mu): Go accepts both.
constexpr std::array<Unit, 8> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\u00b5s", 1'000},
    {"\u03bcs", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Appends v's decimal digits; the buffer is built back to front.
void prepend_int(std::string& reversed, std::uint64_t v) {
  do {
    reversed.push_back(static_cast<char>('0' + v % 10));
    v /= 10;
  } while (v != 0);
}

// Prepends the fraction v / 10^precision without trailing zeros (and without
// the point when it is zero); returns v / 10^precision.
std::uint64_t prepend_fraction(std::string& reversed, std::uint64_t v, int precision) {
  bool print = false;
  for (int i = 0; i < precision; ++i) {
    const auto digit = static_cast<char>(v % 10);
    print = print || digit != 0;
    if (print) reversed.push_back(static_cast<char>('0' + digit));
    v /= 10;
  }
  if (print) reversed.push_back('.');
  return v;
}

}  // namespace

std::expected<std::chrono::nanoseconds, std::string> parse_duration(std::string_view text) {
  const std::string_view original = text;
  const auto invalid = [&] { return std::unexpected("invalid duration " + quoted(original)); };

  bool negative = false;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return invalid();

  std::uint64_t total = 0;
  while (!text.empty()) {
    if (text.front() != '.' && !is_digit(text.front())) return invalid();

    // The integer part.
    std::uint64_t whole = 0;
    std::size_t digits = 0;
    for (; digits < text.size() && is_digit(text[digits]); ++digits) {
      const auto digit = static_cast<std::uint64_t>(text[digits] - '0');
      if (whole > (kMaxMagnitude - digit) / 10) return invalid();
      whole = whole * 10 + digit;
    }
    const bool has_whole = digits > 0;
    text.remove_prefix(digits);

    // The fraction: digits beyond what 64 bits hold are dropped, as Go does.
    std::uint64_t fraction = 0;
    double scale = 1;
    bool has_fraction = false;
    if (!text.empty() && text.front() == '.') {
      text.remove_prefix(1);
      bool overflowed = false;
      std::size_t n = 0;
      for (; n < text.size() && is_digit(text[n]); ++n) {
        if (overflowed) continue;
        const auto digit = static_cast<std::uint64_t>(text[n] - '0');
        if (fraction > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
          overflowed = true;
          continue;
        }
        fraction = fraction * 10 + digit;
        scale *= 10;
      }
      has_fraction = n > 0;
      text.remove_prefix(n);
    }
    if (!has_whole && !has_fraction) return invalid();

    std::size_t unit_length = 0;
    while (unit_length < text.size() && text[unit_length] != '.' && !is_digit(text[unit_length])) ++unit_length;
    const std::string_view unit_name = text.substr(0, unit_length);
    if (unit_name.empty()) return std::unexpected("missing unit in duration " + quoted(original));
    text.remove_prefix(unit_length);
    const Unit* unit = nullptr;
    for (const Unit& candidate : kUnits) {
      if (candidate.name == unit_name) unit = &candidate;
    }
    if (unit == nullptr) {
      return std::unexpected("unknown unit " + quoted(unit_name) + " in duration " + quoted(original));
    }

    if (whole > kMaxMagnitude / unit->nanoseconds) return invalid();
    std::uint64_t value = whole * unit->nanoseconds;
    if (fraction > 0) {
      // Float arithmetic is fine here: the result is below one unit.
      value += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit->nanoseconds) / scale));
      if (value > kMaxMagnitude) return invalid();
    }
    if (value > kMaxMagnitude - total) return invalid();
    total += value;
  }

  if (negative) {
    // -2^63 is representable; negate in unsigned arithmetic to reach it.
    return std::chrono::nanoseconds(static_cast<std::int64_t>(~total + 1));
  }
  if (total > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return invalid();
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::nanoseconds duration) {
  const std::int64_t count = duration.count();
  const bool negative = count < 0;
  // Two's complement negation in unsigned arithmetic handles INT64_MIN.
  std::uint64_t u = static_cast<std::uint64_t>(count);
  if (negative) u = ~u + 1;

  std::string reversed;
  if (u < 1'000'000'000) {
    // Below a second: the largest unit that keeps a whole part.
    if (u == 0) return "0s";
    reversed = "s";
    int precision = 0;
    if (u < 1'000) {
      reversed += 'n';
    } else if (u < 1'000'000) {
      precision = 3;
      reversed += "\xb5\xc2";  // "µ" (U+00B5), bytes reversed
    } else {
      precision = 6;
      reversed += 'm';
    }
    u = prepend_fraction(reversed, u, precision);
    prepend_int(reversed, u);
  } else {
    reversed = "s";
    u = prepend_fraction(reversed, u, 9);
    prepend_int(reversed, u % 60);
    u /= 60;
    if (u > 0) {
      reversed += 'm';
      prepend_int(reversed, u % 60);
      u /= 60;
      if (u > 0) {
        reversed += 'h';
        prepend_int(reversed, u);
      }
    }
  }
  if (negative) reversed += '-';
  return {reversed.rbegin(), reversed.rend()};
}

}  // namespace kubenat
