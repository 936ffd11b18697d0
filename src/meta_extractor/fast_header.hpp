// Internal: a strict, allocation-light scan of a Part-10 header (PS3.10 7.1, PS3.5 7.1) for the common case —
// little-endian explicit or implicit VR, well-formed lengths — that locates top-level elements without DCMTK.
// Anything unusual is not guessed at: the scan says kFallback and the caller parses the file with DCMTK.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace meta_db::extractor::detail {

struct RawElement {
  std::uint32_t key = 0;     // (group << 16) | element
  char vr[2] = {0, 0};       // as encoded; {0, 0} in implicit VR
  bool undefined = false;    // undefined length (a sequence)
  std::size_t offset = 0;    // value offset in the buffer
  std::uint32_t length = 0;  // value length (0 when undefined)
};

enum class ScanStatus {
  kOk,        // elements found; the stream ended cleanly at Pixel Data (or a later tag) or at end of file
  kNeedMore,  // the buffer is a prefix and the header continues past it
  kFallback,  // not the common case (or damaged): let DCMTK parse and judge it
};

struct HeaderScan {
  ScanStatus status = ScanStatus::kFallback;
  bool implicit_vr = false;
  std::vector<RawElement> meta;     // group 0002, always explicit VR little endian
  std::vector<RawElement> dataset;  // top-level dataset elements before Pixel Data
};

// `eos` tells whether `bytes` is the whole file; `sequence_tags` (sorted) are the dictionary's SQ tags, which
// decide what an implicit-VR defined-length value is.
HeaderScan ScanHeader(std::string_view bytes, bool eos, const std::vector<std::uint32_t>& sequence_tags);

}  // namespace meta_db::extractor::detail
