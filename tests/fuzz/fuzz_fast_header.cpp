// Fuzz target: meta_db's own Part-10 header scanner (fast_header.cpp) on raw bytes, as the whole file and as a
// prefix. Properties: no crash, and every element it reports lies inside the buffer.
#include "fuzz_support.hpp"

#include "meta_extractor/fast_header.hpp"
#include "meta_extractor/tag_index.hpp"

namespace {

using meta_db::extractor::detail::HeaderScan;
using meta_db::extractor::detail::RawElement;
using meta_db::extractor::detail::ScanStatus;

void CheckInside(const HeaderScan& scan, std::size_t size) {
  if (scan.status != ScanStatus::kOk) return;
  for (const auto* list : {&scan.meta, &scan.dataset}) {
    for (const RawElement& e : *list) {
      if (e.offset > size || e.length > size - e.offset) meta_db::fuzz::Broken("element value outside the buffer");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<std::uint32_t> sequence_tags =
      meta_db::extractor::detail::BuildTagIndex(meta_db::extractor::ProfileSet::Defaults()).sequence_tags;
  const std::string_view bytes = meta_db::fuzz::Bytes(data, size);
  CheckInside(meta_db::extractor::detail::ScanHeader(bytes, true, sequence_tags), size);
  CheckInside(meta_db::extractor::detail::ScanHeader(bytes.substr(0, size / 2), false, sequence_tags), size / 2);
  return 0;
}
