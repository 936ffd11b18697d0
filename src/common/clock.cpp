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

}  // namespace meta_db
