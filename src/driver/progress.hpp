// Ingest progress on a stream: a redrawn line on a terminal, a periodic line otherwise.
#pragma once

#include "driver/ingest.hpp"

#include <chrono>
#include <cstdint>
#include <iosfwd>

namespace meta_db::driver {

class Progress {
 public:
  // `enabled` false prints nothing; a terminal is detected when the stream is std::cerr and stderr is a tty.
  Progress(std::ostream& out, bool enabled);
  // Files the last ingest of this root saw (0 if unknown), for a percentage bar.
  void Expect(std::int64_t files) { expected_files_ = files; }
  void Update(const IngestSummary& summary);
  void Done(const IngestSummary& summary);

 private:
  void Print(const IngestSummary& summary);

  std::ostream& out_;
  bool enabled_;
  bool terminal_;
  std::int64_t expected_files_ = 0;
  std::chrono::steady_clock::time_point started_, last_;
};

}  // namespace meta_db::driver
