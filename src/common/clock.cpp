// ISO-8601 formatting of system_clock time points.
#include "common/clock.hpp"

#include <ctime>
#include <cstdio>

namespace meta_db {

std::string FormatIsoUtc(std::chrono::system_clock::time_point when) {
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<int>(millis % 1000));
  return buffer;
}

std::string NowIsoUtc() { return FormatIsoUtc(std::chrono::system_clock::now()); }

namespace {

// Reads `count` digits at text[at...] into value; false if any is not a digit.
bool Digits(std::string_view text, std::size_t at, std::size_t count, int& value) {
  if (at + count > text.size()) return false;
  value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    value = value * 10 + (text[i] - '0');
  }
  return true;
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> ParseIsoUtc(std::string_view text) {
  if (!text.empty() && text.back() == 'Z') text.remove_suffix(1);
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  if (!Digits(text, 0, 4, year) || text.size() < 10 || text[4] != '-' || !Digits(text, 5, 2, month) ||
      text[7] != '-' || !Digits(text, 8, 2, day)) {
    return std::nullopt;
  }
  std::size_t at = 10;
  if (at < text.size()) {
    if (text[at] != 'T' || !Digits(text, at + 1, 2, hour) || text.size() < at + 6 || text[at + 3] != ':' ||
        !Digits(text, at + 4, 2, minute)) {
      return std::nullopt;
    }
    at += 6;
    if (at < text.size()) {
      if (text[at] != ':' || !Digits(text, at + 1, 2, second)) return std::nullopt;
      at += 3;
    }
    if (at < text.size()) {
      const std::size_t digits = text.size() - at - 1;
      if (text[at] != '.' || digits < 1 || digits > 3 || !Digits(text, at + 1, digits, millis)) return std::nullopt;
      for (std::size_t i = digits; i < 3; ++i) millis *= 10;
    }
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  return std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
         std::chrono::seconds(second) + std::chrono::milliseconds(millis);
}

}  // namespace meta_db
