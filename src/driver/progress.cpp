// Progress reporting for long ingests.
#include "driver/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <iostream>

namespace meta_db::driver {

Progress::Progress(std::ostream& out, bool enabled)
    : out_(out),
      enabled_(enabled),
      terminal_(&out == &std::cerr && isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()),
      last_(started_) {}

void Progress::Update(const IngestSummary& summary) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal line is cheap to redraw; a log gets a line every 5 s so CI logs stay short.
  const auto period = terminal_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
  if (now - last_ < period) return;
  last_ = now;
  Print(summary);
}

void Progress::Done(const IngestSummary&) {
  if (enabled_ && terminal_) out_ << "\r\033[K" << std::flush;
}

void Progress::Print(const IngestSummary& s) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(s.files_seen) / seconds : 0;
  char line[256];
  std::snprintf(line, sizeof line,
                "ingest: %lld files (%lld parsed, %lld unchanged, %lld failed) %.0f files/s %.1f s",
                static_cast<long long>(s.files_seen), static_cast<long long>(s.dicom_parsed),
                static_cast<long long>(s.unchanged_files), static_cast<long long>(s.failed + s.incomplete), rate,
                seconds);
  if (terminal_) {
    std::string bar;
    if (expected_files_ > 0) {
      constexpr int kWidth = 24;
      const auto done = std::min<std::int64_t>(kWidth, s.files_seen * kWidth / expected_files_);
      bar = "[" + std::string(static_cast<std::size_t>(done), '#') + std::string(kWidth - done, '.') + "] ";
    }
    out_ << "\r\033[K" << bar << line << std::flush;
  } else {
    out_ << line << "\n" << std::flush;
  }
}

}  // namespace meta_db::driver
