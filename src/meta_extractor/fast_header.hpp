// Internal: a strict, allocation-light scan of a Part-10 header (PS3.10 7.1, PS3.5 7.1) for the common case —
// little-endian explicit or implicit VR, well-formed lengths — that locates top-level elements without DCMTK.
// Anything unusual is not guessed at: the scan says kFallback and the caller parses the file with DCMTK.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace meta_db::extractor::detail {

// Values longer than this are never loaded by either path (DCMTK's maxReadLength; the fast path omits them): no
// profiled attribute is bulk data, and it bounds what a corrupt length field can make us allocate.
inline constexpr std::uint32_t kMaxLoadedValueLength = 64 * 1024;
// More top-level elements than any real header has (a few hundred): past this the scan defers to DCMTK, whose
// own caps judge the file, so the element list never grows with a hostile file's size.
inline constexpr std::size_t kMaxTopLevelElements = 1 << 16;

struct RawElement {
  std::uint32_t key = 0;     // (group << 16) | element
  char vr[2] = {0, 0};       // as encoded; {0, 0} in implicit VR
  bool undefined = false;    // undefined length (a sequence)
  std::size_t offset = 0;    // value offset in the buffer
  std::uint32_t length = 0;  // value length (0 when undefined)
};

enum class ScanStatus {
  kOk,         // elements found; the stream ended cleanly at Pixel Data (or a later tag) or at end of file
  kNeedMore,   // the buffer is a prefix and the header continues past it
  kSkipValue,  // a long top-level value continues past the buffer: read on after it (HeaderScan::skip)
  kFallback,   // not the common case (or damaged): let DCMTK parse and judge it
};

// A top-level value longer than kMaxLoadedValueLength that the caller left out of the buffer: the file's bytes
// after it follow in the buffer from `offset` on, so a 100 MB encapsulated PDF costs no memory.
struct SkippedValue {
  std::size_t offset = 0;    // buffer offset where the value would start (right after its element header)
  std::uint32_t length = 0;  // its length, as the element header says
};

struct HeaderScan {
  ScanStatus status = ScanStatus::kFallback;
  bool implicit_vr = false;
  SkippedValue skip;                // with kSkipValue: the value to leave out
  std::vector<RawElement> meta;     // group 0002, always explicit VR little endian
  std::vector<RawElement> dataset;  // top-level dataset elements before Pixel Data
};

// `eos` tells whether `bytes` reaches the end of the file; `sequence_tags` (sorted) are the dictionary's SQ tags,
// which decide what an implicit-VR defined-length value is; `skipped` (by offset) are the values the caller left
// out after earlier kSkipValue answers. A pure function of its arguments (the libFuzzer target calls it).
// A dataset whose first element contradicts the declared VR encoding (explicit declared, implicit found, or the
// reverse) is kFallback: DCMTK's reading of such files is the one meta_db records (see extractor.cpp).
HeaderScan ScanHeader(std::string_view bytes, bool eos, const std::vector<std::uint32_t>& sequence_tags,
                      std::span<const SkippedValue> skipped = {});

// True when `p` (two bytes) is a VR code of PS3.5 6.2.
bool IsVrCode(const char* p);

}  // namespace meta_db::extractor::detail
