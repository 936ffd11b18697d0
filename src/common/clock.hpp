// Wall-clock timestamps as ISO-8601 UTC strings with milliseconds ("2026-11-25T08:41:40.123Z").
#pragma once

#include <chrono>
#include <string>

namespace meta_db {

std::string FormatIsoUtc(std::chrono::system_clock::time_point when);
std::string NowIsoUtc();

}  // namespace meta_db
