// Synthetic LIDC-IDRI reader XML (LidcReadMessage) for `meta_db synth`: 1-4 reading sessions marking nodules with
// outlines on consecutive slices of the series (its real z positions and SOP Instance UIDs), ratings, small nodules
// and non-nodules — and the counts an ingest must find. Deterministic: same input, same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meta_db::synth {

struct SynthSlice {
  std::string sop_instance_uid;
  double z = 0;
};

struct LidcSeries {
  std::string study_uid, series_uid;
  std::vector<SynthSlice> slices;  // in file order
  double pixel_spacing = 0.7;
};

// What the reads of an archive hold, as the manifest reports it (the catalogue's series summaries add up to it).
struct LidcExpected {
  int files = 0;            // well-formed LidcReadMessage files
  int malformed = 0;        // LidcReadMessage files that are not well-formed XML (registered as errors)
  int sessions = 0;         // reading sessions (series.annotations.readers summed)
  int annotations = 0;      // nodule (>= 3 mm) marks, all readers
  int nodules = 0;          // physical nodules (each marked by its readers at one place)
  int small_nodules = 0;
  int non_nodules = 0;
  int series_with_nodules = 0;
};

// The XML of one series' read; adds its counts to `expected`.
std::string SynthLidcXml(const LidcSeries& series, std::uint64_t seed, LidcExpected& expected);
// A read cut short inside a reading session (not well-formed); counts it.
std::string MalformedLidcXml(const LidcSeries& series, std::uint64_t seed, LidcExpected& expected);

}  // namespace meta_db::synth
