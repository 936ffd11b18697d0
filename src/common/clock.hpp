// Wall-clock timestamps as ISO-8601 UTC strings with milliseconds ("2026-11-25T08:41:40.123Z").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace meta_db {

std::string FormatIsoUtc(std::chrono::system_clock::time_point when);
std::string NowIsoUtc();
// Parses "YYYY-MM-DD", optionally followed by "THH:MM", ":SS", ".fff" (1-3 digits) and "Z" (UTC is assumed);
// nullopt for anything else.
std::optional<std::chrono::system_clock::time_point> ParseIsoUtc(std::string_view text);

}  // namespace meta_db
