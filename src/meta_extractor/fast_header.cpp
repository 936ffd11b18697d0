// Fast top-level element scan of little-endian Part-10 files; strict: any irregularity defers to DCMTK.
#include "meta_extractor/fast_header.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace meta_db::extractor::detail {
namespace {

constexpr std::uint32_t kPixelData = 0x7FE00010;
constexpr std::uint32_t kUndefined = 0xFFFFFFFF;
constexpr std::uint32_t kItem = 0xFFFEE000, kItemEnd = 0xFFFEE00D, kSequenceEnd = 0xFFFEE0DD;
constexpr int kMaxDepth = 16;

std::uint16_t U16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8));
}
std::uint32_t U32(const char* p) { return U16(p) | (static_cast<std::uint32_t>(U16(p + 2)) << 16); }
std::uint32_t Key(const char* p) { return (static_cast<std::uint32_t>(U16(p)) << 16) | U16(p + 2); }

// PS3.5 7.1.2: these explicit VRs have two reserved bytes and a 4-byte length; the rest a 2-byte length.
bool HasLongLength(const char* vr) {
  static constexpr std::array<const char*, 13> kLong = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                        "UC", "UN", "UR", "UT", "SV", "UV"};
  for (const char* v : kLong) {
    if (vr[0] == v[0] && vr[1] == v[1]) return true;
  }
  return false;
}

class Scanner {
 public:
  Scanner(std::string_view bytes, bool eos, const std::vector<std::uint32_t>& sequence_tags,
          std::span<const SkippedValue> skipped)
      : b_(bytes), eos_(eos), sequence_tags_(sequence_tags), skipped_(skipped) {}

  // With kSkipValue from ScanDataset: the value to leave out.
  SkippedValue skip() const { return skip_; }
  std::size_t pos() const { return pos_; }
  bool Have(std::size_t n) const { return b_.size() - pos_ >= n; }

  // Reads one element header at pos_ into `e`; kOk, kNeedMore or kFallback.
  ScanStatus ReadHeader(bool implicit, RawElement& e) {
    if (!Have(8)) return Short();
    const char* p = b_.data() + pos_;
    e.key = Key(p);
    std::uint32_t length = 0;
    std::size_t header = 8;
    if (implicit || (e.key >> 16) == 0xFFFE) {  // items and delimiters never carry a VR (PS3.5 7.5)
      length = U32(p + 4);
    } else {
      if (!IsVrCode(p + 4)) return ScanStatus::kFallback;
      e.vr[0] = p[4];
      e.vr[1] = p[5];
      if (HasLongLength(p + 4)) {
        if (!Have(12)) return Short();
        length = U32(p + 8);
        header = 12;
      } else {
        length = U16(p + 6);
      }
    }
    pos_ += header;
    e.offset = pos_;
    e.undefined = length == kUndefined;
    e.length = e.undefined ? 0 : length;
    if (!e.undefined && length % 2 != 0) return ScanStatus::kFallback;  // odd lengths: DCMTK's corrections
    return ScanStatus::kOk;
  }

  // Skips a defined-length value at pos_.
  ScanStatus SkipValue(const RawElement& e) {
    if (!Have(e.length)) return Short();
    pos_ += e.length;
    return ScanStatus::kOk;
  }

  // Skips the items of an undefined-length sequence up to and including its delimiter (PS3.5 7.5.2).
  ScanStatus SkipSequence(bool implicit, int depth) {
    if (depth > kMaxDepth) return ScanStatus::kFallback;
    for (;;) {
      RawElement item;
      if (ScanStatus s = ReadHeader(true, item); s != ScanStatus::kOk) return s;
      if (item.key == kSequenceEnd) return ScanStatus::kOk;
      if (item.key != kItem) return ScanStatus::kFallback;
      ScanStatus s =
          item.undefined ? SkipItemElements(implicit, depth) : ScanItemElements(implicit, pos_ + item.length, depth);
      if (s != ScanStatus::kOk) return s;
    }
  }

  // Top-level dataset elements until Pixel Data, a later tag or a clean end of file.
  ScanStatus ScanDataset(bool implicit, std::vector<RawElement>& out) {
    std::uint32_t previous = 0;
    while (pos_ < b_.size() || !eos_) {
      if (pos_ + 4 <= b_.size() && Key(b_.data() + pos_) >= kPixelData) {
        if (out.empty()) return ScanStatus::kFallback;  // nothing before the pixels: suspicious
        // DCMTK reads the whole header of the element it stops at; a file cut inside it is truncated.
        RawElement stop;
        return ReadHeader(implicit, stop);
      }
      RawElement e;
      if (ScanStatus s = ReadHeader(implicit, e); s != ScanStatus::kOk) return s;
      if ((e.key >> 16) == 0xFFFE || (!out.empty() && e.key <= previous)) return ScanStatus::kFallback;
      if (out.size() >= kMaxTopLevelElements) return ScanStatus::kFallback;
      previous = e.key;
      if (ScanStatus s = SkipLongValue(implicit, e); s != ScanStatus::kFallback) {
        if (s != ScanStatus::kOk) return s;
        out.push_back(e);
        continue;
      }
      if (ScanStatus s = SkipElementValue(implicit, e, 0); s != ScanStatus::kOk) return s;
      out.push_back(e);
    }
    return ScanStatus::kOk;
  }

  ScanStatus ScanMeta(std::vector<RawElement>& out) {
    pos_ = 132;
    while (Have(4) && U16(b_.data() + pos_) == 0x0002) {
      RawElement e;
      if (ScanStatus s = ReadHeader(false, e); s != ScanStatus::kOk) return s;
      if (e.undefined || (!out.empty() && e.key <= out.back().key)) return ScanStatus::kFallback;  // unordered
      if (ScanStatus s = SkipValue(e); s != ScanStatus::kOk) return s;
      out.push_back(e);
    }
    if (!Have(4)) return Short();
    // PS3.10 7.1: (0002,0000) gives the meta group's length; a group that ends elsewhere is damaged.
    if (out.empty() || out.front().key != 0x00020000 || out.front().length != 4 || out.front().vr[0] != 'U' ||
        out.front().vr[1] != 'L') {
      return ScanStatus::kFallback;
    }
    const std::size_t meta_end = out.front().offset + 4 + U32(b_.data() + out.front().offset);
    return meta_end == pos_ ? ScanStatus::kOk : ScanStatus::kFallback;
  }

 private:
  // A long value that is not a sequence is never loaded, so its bytes need not be in the buffer: one the caller
  // left out is stepped over, one running past the buffer is asked to be left out (kSkipValue). kFallback means
  // "not such a value": the ordinary skip applies.
  ScanStatus SkipLongValue(bool implicit, const RawElement& e) {
    if (e.undefined || e.length <= kMaxLoadedValueLength || IsSequence(implicit, e)) return ScanStatus::kFallback;
    if (next_skipped_ < skipped_.size() && skipped_[next_skipped_].offset == pos_) {
      if (skipped_[next_skipped_++].length != e.length) return ScanStatus::kFallback;  // not the bytes we skipped
      return ScanStatus::kOk;
    }
    if (Have(e.length) || eos_) return ScanStatus::kFallback;
    skip_ = SkippedValue{.offset = pos_, .length = e.length};
    return ScanStatus::kSkipValue;
  }

  // In implicit VR the data dictionary says what is a sequence.
  bool IsSequence(bool implicit, const RawElement& e) const {
    return implicit ? std::binary_search(sequence_tags_.begin(), sequence_tags_.end(), e.key)
                    : (e.vr[0] == 'S' && e.vr[1] == 'Q');
  }
  // Out of bytes: a prefix needs more; a whole file is truncated, which DCMTK will report with its reason.
  ScanStatus Short() const { return eos_ ? ScanStatus::kFallback : ScanStatus::kNeedMore; }

  ScanStatus SkipElementValue(bool implicit, const RawElement& e, int depth) {
    if (!e.undefined) {
      if (!Have(e.length)) return Short();
      // A defined-length sequence is checked item by item, as DCMTK parses it.
      if (!IsSequence(implicit, e)) return SkipValue(e);
      return ScanDefinedSequence(implicit, pos_ + e.length, depth + 1);
    }
    // Undefined length: a sequence. UN with undefined length (implicit-VR items inside, CP-246) is rare and
    // DCMTK re-reads it by dictionary VR, so it goes to DCMTK; encapsulated OB is only legal for Pixel Data.
    const bool sq = implicit || (e.vr[0] == 'S' && e.vr[1] == 'Q');
    if (!sq) return ScanStatus::kFallback;
    return SkipSequence(implicit, depth + 1);
  }

  // Items of a defined-length sequence must exactly fill it (PS3.5 7.5.1).
  ScanStatus ScanDefinedSequence(bool implicit, std::size_t end, int depth) {
    if (depth > kMaxDepth) return ScanStatus::kFallback;
    while (pos_ < end) {
      RawElement item;
      if (ScanStatus s = ReadHeader(true, item); s != ScanStatus::kOk) return s;
      if (item.key != kItem || pos_ > end) return ScanStatus::kFallback;
      ScanStatus s =
          item.undefined ? SkipItemElements(implicit, depth) : ScanItemElements(implicit, pos_ + item.length, depth);
      if (s != ScanStatus::kOk) return s;
    }
    return pos_ == end ? ScanStatus::kOk : ScanStatus::kFallback;
  }

  // Elements of a defined-length item must exactly fill it.
  ScanStatus ScanItemElements(bool implicit, std::size_t end, int depth) {
    if (end > b_.size()) return Short();
    while (pos_ < end) {
      RawElement e;
      if (ScanStatus s = ReadHeader(implicit, e); s != ScanStatus::kOk) return s;
      if ((e.key >> 16) == 0xFFFE || pos_ > end) return ScanStatus::kFallback;
      if (ScanStatus s = SkipElementValue(implicit, e, depth); s != ScanStatus::kOk) return s;
    }
    return pos_ == end ? ScanStatus::kOk : ScanStatus::kFallback;
  }

  ScanStatus SkipItemElements(bool implicit, int depth) {
    for (;;) {
      RawElement e;
      if (ScanStatus s = ReadHeader(implicit, e); s != ScanStatus::kOk) return s;
      if (e.key == kItemEnd) return ScanStatus::kOk;
      if ((e.key >> 16) == 0xFFFE) return ScanStatus::kFallback;
      if (ScanStatus s = SkipElementValue(implicit, e, depth); s != ScanStatus::kOk) return s;
    }
  }

  std::string_view b_;
  bool eos_;
  const std::vector<std::uint32_t>& sequence_tags_;
  std::span<const SkippedValue> skipped_;
  std::size_t next_skipped_ = 0;
  SkippedValue skip_;
  std::size_t pos_ = 0;
};

std::string_view TrimUid(std::string_view s) {
  while (!s.empty() && (s.back() == '\0' || s.back() == ' ')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IsVrCode(const char* p) {
  static constexpr std::array<const char*, 34> kVrs = {
      "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV",
      "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  return std::any_of(kVrs.begin(), kVrs.end(), [p](const char* vr) { return p[0] == vr[0] && p[1] == vr[1]; });
}

HeaderScan ScanHeader(std::string_view bytes, bool eos, const std::vector<std::uint32_t>& sequence_tags,
                      std::span<const SkippedValue> skipped) {
  HeaderScan scan;
  if (bytes.size() < 132 || std::memcmp(bytes.data() + 128, "DICM", 4) != 0) return scan;  // bare dataset
  Scanner scanner(bytes, eos, sequence_tags, skipped);
  scan.status = scanner.ScanMeta(scan.meta);
  if (scan.status != ScanStatus::kOk) return scan;
  std::string_view xfer;
  for (const RawElement& e : scan.meta) {
    if (e.key == 0x00020010) xfer = TrimUid(bytes.substr(e.offset, e.length));
  }
  // Implicit VR LE and every explicit LE syntax (incl. encapsulated ones, whose dataset is explicit LE);
  // big endian, deflate and a missing syntax go to DCMTK (PS3.5 A).
  if (xfer.empty() || xfer == "1.2.840.10008.1.2.2" || xfer == "1.2.840.10008.1.2.1.99") {
    scan.status = ScanStatus::kFallback;
    return scan;
  }
  scan.implicit_vr = xfer == "1.2.840.10008.1.2";
  // The first dataset element says how the dataset is really encoded (PS3.5 7.1): two bytes after its tag that
  // are a VR code mean explicit VR. A file whose bytes contradict its transfer syntax is read (and the lie
  // recorded) by the DCMTK path alone, so the two paths cannot disagree about such files.
  if (scanner.Have(6) && IsVrCode(bytes.data() + scanner.pos() + 4) == scan.implicit_vr) {
    scan.status = ScanStatus::kFallback;
    return scan;
  }
  scan.status = scanner.ScanDataset(scan.implicit_vr, scan.dataset);
  if (scan.status == ScanStatus::kSkipValue) scan.skip = scanner.skip();
  // Image datasets start at group 0008 (PS3.3 C.12.1); DICOMDIRs (group 0004) and anything stranger are left to
  // DCMTK, whose dataset transfer syntax detection looks at exactly this first tag.
  if (scan.status == ScanStatus::kOk && (scan.dataset.empty() || (scan.dataset.front().key >> 16) < 0x0008)) {
    scan.status = ScanStatus::kFallback;
  }
  return scan;
}

}  // namespace meta_db::extractor::detail
