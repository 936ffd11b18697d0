// Header-only DICOM extraction: bounded head read, content sniffing, fast scan or DCMTK parse, documents by profile.
#include "meta_extractor/extractor.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "meta_extractor/capped_stream.hpp"
#include "meta_extractor/dicom_values.hpp"
#include "meta_extractor/fast_header.hpp"
#include "meta_extractor/tag_index.hpp"

namespace meta_db::extractor {
namespace {

namespace json = boost::json;

// First read covers a typical CT header (2-6 KiB); longer headers grow the read 4x at a time, up to
// kMaxHeaderBytes (header_reader.hpp).
constexpr std::size_t kInitialHead = 8 * 1024;
// The fast scan gives a longer header (rare: large multi-frame functional groups) to DCMTK, which reads it in one
// pass up to kMaxHeaderBytes; so a thread holds at most this much for the scan, then the DCMTK dataset.
constexpr std::size_t kMaxFastScanBytes = 16 << 20;
constexpr Uint32 kMaxValueLength = detail::kMaxLoadedValueLength;

class FileDescriptor {
 public:
  // O_NOFOLLOW: the walk handed over a regular file; a symlink swapped in since then is not followed out of the root.
  explicit FileDescriptor(const std::string& path)
      : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Reads [offset, offset+count) into `buffer` (appending); returns false on an I/O error.
bool ReadAt(int fd, std::vector<char>& buffer, std::size_t offset, std::size_t count) {
  const std::size_t start = buffer.size();
  buffer.resize(start + count);
  std::size_t got = 0;
  while (got < count) {
    const ssize_t n = ::pread(fd, buffer.data() + start + got, count - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  buffer.resize(start + got);
  return true;
}

// The fast path's view of the file: the bytes from its start with the long values it skipped left out.
struct Head {
  std::vector<char> bytes;
  std::vector<detail::SkippedValue> skipped;
  std::size_t file_pos = 0;  // the file offset just past `bytes`' last byte
  std::size_t size = 0;      // the file's size (lowered when it turns out shorter: being rewritten)

  bool AtEnd() const { return file_pos >= size; }

  // Grows the bytes 4x, never past kMaxFastScanBytes; false on an I/O error or at that limit.
  bool ReadMore(int fd) {
    const std::size_t before = bytes.size();
    const std::size_t room = kMaxFastScanBytes - std::min(before, kMaxFastScanBytes);
    const std::size_t want = std::min({size - file_pos, before * 3, room});
    if (want == 0 || !ReadAt(fd, bytes, file_pos, want)) return false;
    file_pos += bytes.size() - before;
    if (bytes.size() < before + want) size = file_pos;
    return true;
  }

  // Leaves out the value `skip` names: the bytes already read of it are dropped, reading goes on after it.
  // False when the value runs past the end of the file (a truncated file, for DCMTK to report).
  bool Skip(const detail::SkippedValue& skip) {
    const std::size_t value_start = file_pos - (bytes.size() - skip.offset);
    if (value_start + skip.length > size) return false;
    bytes.resize(skip.offset);
    skipped.push_back(skip);
    file_pos = value_start + skip.length;
    return true;
  }
};

bool HasDicomExtension(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  const std::size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
  std::string ext = path.substr(dot + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == "dcm" || ext == "dicom" || ext == "dic";
}

std::uint16_t Le16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) | (static_cast<unsigned char>(p[1]) << 8));
}

// PS3.10 7.1: a Part-10 file has a 128-byte preamble and "DICM". Without it, accept what is plausibly a bare
// dataset (PS3.5 7.1): an even group among the first ones a dataset starts with, in either byte order, followed
// by an explicit VR code or a sane implicit-VR length.
bool LooksLikeDicom(const std::vector<char>& head, std::int64_t file_size) {
  if (head.size() >= 132 && std::memcmp(head.data() + 128, "DICM", 4) == 0) return true;
  if (head.size() < 8) return false;
  const std::uint16_t g_le = Le16(head.data());
  const std::uint16_t g_be = static_cast<std::uint16_t>((g_le >> 8) | (g_le << 8));
  const auto plausible_group = [](std::uint16_t g) { return g % 2 == 0 && g >= 0x0002 && g <= 0x0028; };
  if (!plausible_group(g_le) && !plausible_group(g_be)) return false;
  if (detail::IsVrCode(head.data() + 4)) return true;
  const std::uint32_t len_le =
      static_cast<std::uint32_t>(Le16(head.data() + 4)) | (static_cast<std::uint32_t>(Le16(head.data() + 6)) << 16);
  return plausible_group(g_le) && len_le <= static_cast<std::uint64_t>(file_size) && len_le % 2 == 0;
}

struct Parsed {
  std::unique_ptr<DcmFileFormat> file;
  OFCondition status = EC_Normal;
  bool capped = false;  // the header went past kMaxHeaderBytes
  int io_error = 0;
  std::string encoding_note;  // how the dataset's bytes contradict the declared transfer syntax, if they do
};

std::string EncodingName(E_TransferSyntax xfer) {
  const DcmXfer x(xfer);
  return std::string(x.isExplicitVR() ? "explicit" : "implicit") + " VR " + (x.isLittleEndian() ? "little" : "big") +
         " endian";
}

E_TransferSyntax DeclaredXfer(DcmMetaInfo& meta) {
  const char* uid = nullptr;
  if (meta.isEmpty() || meta.findAndGetString(DCM_TransferSyntaxUID, uid).bad() || uid == nullptr) return EXS_Unknown;
  return DcmXfer(uid).getXfer();
}

// DCMTK checks the first dataset element against the declared encoding only for the uncompressed syntaxes; for
// the others (encapsulated pixel data, whose dataset is explicit VR little endian, PS3.5 A.4) this does the same
// check pydicom does: two bytes after the first tag that are no VR code mean implicit VR (e.g. pydicom's
// SC_rgb_jpeg.dcm). The stream is left where it was.
bool ImplicitDespiteDeclaredExplicit(DcmInputStream& stream, E_TransferSyntax declared) {
  switch (declared) {
    case EXS_Unknown:
    case EXS_LittleEndianImplicit:
    case EXS_LittleEndianExplicit:
    case EXS_BigEndianExplicit:
    case EXS_BigEndianImplicit:
      return false;  // dcmAutoDetectDatasetXfer covers these
    default:
      break;
  }
  const DcmXfer x(declared);
  if (!x.isExplicitVR() || !x.isLittleEndian() || x.getStreamCompression() != ESC_none || stream.avail() < 6) {
    return false;
  }
  char first[6];
  stream.mark();
  const offile_off_t got = stream.read(first, sizeof first);
  stream.putback();
  return got == sizeof first && !detail::IsVrCode(first + 4);
}

// Parses the file's meta header and its dataset up to Pixel Data from the file itself: values over
// kMaxValueLength are skipped by seeking, and the parse ends once kMaxHeaderBytes were read (`capped`).
Parsed ParseFile(int fd, std::size_t size) {
  Parsed parsed;
  parsed.file = std::make_unique<DcmFileFormat>();
  detail::CappedFileStream stream(fd, size, kMaxHeaderBytes);
  DcmMetaInfo& meta = *parsed.file->getMetaInfo();
  DcmDataset& dataset = *parsed.file->getDataset();
  parsed.file->transferInit();
  // As DcmFileFormat::readUntilTag, in two steps so that the dataset's encoding can be chosen in between.
  parsed.status = meta.read(stream, EXS_Unknown, EGL_noChange, kMaxValueLength);
  if (parsed.status.good() && meta.transferState() != ERW_ready) parsed.status = EC_StreamNotifyClient;
  if (parsed.status.good()) {
    const E_TransferSyntax declared = DeclaredXfer(meta);
    const E_TransferSyntax xfer =
        ImplicitDespiteDeclaredExplicit(stream, declared) ? EXS_LittleEndianImplicit : declared;
    parsed.status = dataset.readUntilTag(stream, xfer, EGL_noChange, kMaxValueLength, DCM_PixelData);
    const E_TransferSyntax read_as = dataset.getOriginalXfer();
    if (declared != EXS_Unknown && read_as != EXS_Unknown && EncodingName(read_as) != EncodingName(declared)) {
      const DcmXfer said(declared);
      parsed.encoding_note = "transfer syntax " + std::string(said.getXferID()) + " (" + said.getXferName() +
                             ") says " + EncodingName(declared) + ", but the dataset is encoded " +
                             EncodingName(read_as) + ": read as " + EncodingName(read_as);
    }
  }
  parsed.file->transferEnd();
  parsed.capped = stream.capped();
  parsed.io_error = stream.io_error();
  return parsed;
}

// The value used for a promoted field: the first value, only when present and non-empty.
std::optional<json::value> FirstValue(const json::value& v) {
  const json::value& first = v.is_array() ? (v.as_array().empty() ? v : v.as_array().front()) : v;
  if (first.is_null() || first.is_array() || first.is_object()) return std::nullopt;
  if (first.is_string() && first.as_string().empty()) return std::nullopt;
  return first;
}

// Routes one element to every place the index sends it (metadata, promoted field, acquisition date parts).
class DocumentBuilder {
 public:
  DocumentBuilder(const detail::TagIndex& index, detail::TextDecoder& decoder) : index_(index), decoder_(decoder) {}

  // The index entries of `key` (empty when the tag goes nowhere).
  std::pair<const detail::IndexEntry*, const detail::IndexEntry*> Entries(std::uint32_t key) const {
    const auto* begin = index_.entries.data();
    const auto* end = begin + index_.entries.size();
    const auto* lo =
        std::lower_bound(begin, end, key, [](const detail::IndexEntry& e, std::uint32_t k) { return e.key < k; });
    const auto* hi = lo;
    while (hi != end && hi->key == key) ++hi;
    return {lo, hi};
  }

  void Add(DcmElement& element) {
    const std::uint32_t key = (static_cast<std::uint32_t>(element.getGTag()) << 16) | element.getETag();
    const auto [lo, hi] = Entries(key);
    if (lo == hi) return;
    if (std::optional<json::value> value = detail::ElementToJson(element, 0, decoder_)) Route(lo, hi, *value);
  }

  void Route(const detail::IndexEntry* lo, const detail::IndexEntry* hi, const json::value& value) {
    for (const auto* it = lo; it != hi; ++it) Route(*it, value);
  }

  void AddAll(DcmItem* item) {
    if (item == nullptr) return;
    for (DcmObject* obj = item->nextInContainer(nullptr); obj != nullptr; obj = item->nextInContainer(obj)) {
      Add(*static_cast<DcmElement*>(obj));  // direct children of an item are always elements
    }
  }

  void Finish(ExtractedInstance& record) {
    // acquisition_datetime: AcquisitionDateTime (DT), else AcquisitionDate + AcquisitionTime, which concatenate
    // to the same DT form YYYYMMDDHHMMSS.FFFFFF (PS3.5 6.2).
    std::string when = acquisition_[0];
    if (when.empty() && !acquisition_[1].empty()) when = acquisition_[1] + acquisition_[2];
    if (!when.empty()) docs_[2]["acquisition_datetime"] = when;
    for (int level = 0; level < 3; ++level) docs_[level]["metadata"] = std::move(metadata_[level]);
    record.study = std::move(docs_[0]);
    record.series = std::move(docs_[1]);
    record.instance = std::move(docs_[2]);
  }

 private:
  void Route(const detail::IndexEntry& entry, const json::value& value) {
    using detail::Slot;
    const auto level = static_cast<std::size_t>(entry.level);
    switch (entry.slot) {
      case Slot::kMetadata:
        metadata_[level][entry.name] = value;
        break;
      case Slot::kPromoted:
        if (std::optional<json::value> first = FirstValue(value)) docs_[level][entry.name] = std::move(*first);
        break;
      case Slot::kAcquisitionDateTime:
      case Slot::kAcquisitionDate:
      case Slot::kAcquisitionTime:
        if (std::optional<json::value> first = FirstValue(value); first && first->is_string()) {
          acquisition_[static_cast<int>(entry.slot) - static_cast<int>(Slot::kAcquisitionDateTime)] =
              std::string(first->as_string());
        }
        break;
    }
  }

  const detail::TagIndex& index_;
  detail::TextDecoder& decoder_;
  std::array<json::object, 3> docs_, metadata_;
  std::array<std::string, 3> acquisition_;
};

void Classify(ExtractResult& result);

void BuildDocuments(DcmFileFormat& file, const std::string& encoding_note, const detail::TagIndex& index,
                    ExtractResult& result) {
  DcmDataset& dataset = *file.getDataset();
  OFString charset;
  if (dataset.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).bad()) charset.clear();
  detail::TextDecoder decoder(std::string(charset.c_str(), charset.length()));
  DocumentBuilder builder(index, decoder);
  builder.AddAll(file.getMetaInfo());
  builder.AddAll(&dataset);
  builder.Finish(result.record);
  // Where a researcher sees it: in the instance document (`meta_db extract` prints it too).
  if (!encoding_note.empty()) result.record.instance["read_notes"] = json::array{json::string(encoding_note)};
  Classify(result);
}

// kDicom, or kIncomplete naming the missing identifying UIDs (PS3.3 C.7.2.1, C.7.3.1, C.12.1).
void Classify(ExtractResult& result) {
  const ExtractedInstance& record = result.record;
  std::string missing;
  for (const auto& [doc, field, name] : {std::tuple{&record.study, "study_instance_uid", "StudyInstanceUID"},
                                         std::tuple{&record.series, "series_instance_uid", "SeriesInstanceUID"},
                                         std::tuple{&record.instance, "sop_instance_uid", "SOPInstanceUID"}}) {
    if (!doc->contains(field)) missing += (missing.empty() ? "" : ", ") + std::string(name);
  }
  if (missing.empty()) {
    result.outcome = FileOutcome::kDicom;
  } else {
    result.outcome = FileOutcome::kIncomplete;
    result.error = "missing " + missing;
  }
}

// ---- Fast path: the common little-endian header without DCMTK's per-element objects (see fast_header.hpp). ----

enum class Conversion { kValue, kOmit, kFallback };

// PS3.5 6.2: these VRs hold exactly one value; a backslash in them is text.
bool SingleValued(int vr) { return vr == EVR_LT || vr == EVR_ST || vr == EVR_UT || vr == EVR_UR; }

std::size_t BinarySize(int vr) {
  switch (vr) {
    case EVR_US:
    case EVR_SS:
      return 2;
    case EVR_UL:
    case EVR_SL:
    case EVR_FL:
      return 4;
    case EVR_FD:
    case EVR_SV:
    case EVR_UV:
      return 8;
    default:
      return 0;
  }
}

json::value BinaryValue(const char* p, int vr) {
  std::uint64_t raw = 0;
  for (std::size_t i = BinarySize(vr); i-- > 0;) raw = (raw << 8) | static_cast<unsigned char>(p[i]);
  switch (vr) {
    case EVR_US:
      return static_cast<std::uint16_t>(raw);
    case EVR_SS:
      return static_cast<std::int16_t>(static_cast<std::uint16_t>(raw));
    case EVR_UL:
      return static_cast<std::uint32_t>(raw);
    case EVR_SL:
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(raw));
    case EVR_SV:
      return static_cast<std::int64_t>(raw);
    case EVR_UV:
      return raw;
    case EVR_FL:
      return detail::FloatToJson(std::bit_cast<float>(static_cast<std::uint32_t>(raw)));
    default:
      return detail::FloatToJson(std::bit_cast<double>(raw));
  }
}

// The same JSON ElementToJson gives for the DCMTK element; kFallback for what only DCMTK handles.
Conversion RawToJson(std::string_view bytes, const detail::RawElement& e, int vr, detail::TextDecoder& decoder,
                     json::value& out) {
  if (e.undefined || vr == EVR_SQ || vr == EVR_UN || vr == EVR_AT || vr == EVR_xs || vr == EVR_ox || vr == EVR_lt ||
      vr == EVR_na || vr == EVR_up || vr == EVR_UNKNOWN || vr == EVR_UNKNOWN2B) {
    return Conversion::kFallback;
  }
  if (vr == EVR_OB || vr == EVR_OW || vr == EVR_OF || vr == EVR_OD || vr == EVR_OL || vr == EVR_OV) {
    return Conversion::kOmit;
  }
  if (e.length == 0) {
    out = nullptr;
    return Conversion::kValue;
  }
  if (e.length > kMaxValueLength) return Conversion::kOmit;  // DCMTK defers (never loads) such values
  const std::string_view value = bytes.substr(e.offset, e.length);
  // DCMTK drops NULs inside text values in VR-specific ways; such (damaged) values are left to it.
  if (BinarySize(vr) == 0) {
    const std::size_t nul = value.find('\0');
    if (nul != std::string_view::npos && value.find_first_not_of('\0', nul) != std::string_view::npos) {
      return Conversion::kFallback;
    }
  }
  // PS3.5 9.1: UIDs are digits and dots; DCMTK repairs other characters its own way, so leave those to it.
  if (vr == EVR_UI) {
    std::string_view uid = value;
    while (!uid.empty() && (uid.back() == '\0' || uid.back() == ' ')) uid.remove_suffix(1);
    if (uid.find_first_not_of("0123456789.\\") != std::string_view::npos) return Conversion::kFallback;
  }
  // A text value of nothing but padding (spaces; NULs too for UI, PS3.5 6.2) has VM 0 in DCMTK, i.e. it is
  // empty: null, as for length 0.
  const std::string_view padding = vr == EVR_UI ? std::string_view(" \0", 2) : std::string_view(" ");
  if (BinarySize(vr) == 0 && value.find_first_not_of(padding) == std::string_view::npos) {
    out = nullptr;
    return Conversion::kValue;
  }
  std::vector<json::value> values;
  if (const std::size_t size = BinarySize(vr)) {
    if (e.length % size != 0) return Conversion::kFallback;
    for (std::size_t at = 0; at < e.length; at += size) values.push_back(BinaryValue(value.data() + at, vr));
  } else {
    std::size_t start = 0;
    for (;;) {
      const std::size_t end = SingleValued(vr) ? std::string_view::npos : value.find('\\', start);
      values.push_back(detail::TextComponentToJson(value.substr(start, end - start), vr, decoder));
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
  }
  out = values.size() == 1 ? std::move(values.front()) : json::value(json::array(values.begin(), values.end()));
  return Conversion::kValue;
}

// Specific Character Set as DCMTK's findAndGetOFStringArray gives it: values trimmed, joined by backslashes.
std::string CharsetOf(std::string_view bytes, const std::vector<detail::RawElement>& dataset) {
  for (const detail::RawElement& e : dataset) {
    if (e.key != 0x00080005) continue;
    if (e.length > kMaxValueLength) return {};  // never loaded, as in DCMTK
    std::string out;
    std::string_view rest = bytes.substr(e.offset, e.length);
    for (;;) {
      const std::size_t end = rest.find('\\');
      std::string_view part = rest.substr(0, end);
      while (!part.empty() && (part.front() == ' ' || part.front() == '\0')) part.remove_prefix(1);
      while (!part.empty() && (part.back() == ' ' || part.back() == '\0')) part.remove_suffix(1);
      out += part;
      if (end == std::string_view::npos) break;
      out += '\\';
      rest.remove_prefix(end + 1);
    }
    return out;
  }
  return {};
}

// Explicit VR code → DcmEVR without DcmVR's string table search (this runs for every profiled element).
int EvrOf(const char* code) {
  struct Entry {
    char a, b;
    DcmEVR evr;
  };
  static constexpr std::array<Entry, 34> kTable = {{
      {'A', 'E', EVR_AE}, {'A', 'S', EVR_AS}, {'A', 'T', EVR_AT}, {'C', 'S', EVR_CS}, {'D', 'A', EVR_DA},
      {'D', 'S', EVR_DS}, {'D', 'T', EVR_DT}, {'F', 'L', EVR_FL}, {'F', 'D', EVR_FD}, {'I', 'S', EVR_IS},
      {'L', 'O', EVR_LO}, {'L', 'T', EVR_LT}, {'O', 'B', EVR_OB}, {'O', 'D', EVR_OD}, {'O', 'F', EVR_OF},
      {'O', 'L', EVR_OL}, {'O', 'V', EVR_OV}, {'O', 'W', EVR_OW}, {'P', 'N', EVR_PN}, {'S', 'H', EVR_SH},
      {'S', 'L', EVR_SL}, {'S', 'Q', EVR_SQ}, {'S', 'S', EVR_SS}, {'S', 'T', EVR_ST}, {'S', 'V', EVR_SV},
      {'T', 'M', EVR_TM}, {'U', 'C', EVR_UC}, {'U', 'I', EVR_UI}, {'U', 'L', EVR_UL}, {'U', 'N', EVR_UN},
      {'U', 'R', EVR_UR}, {'U', 'S', EVR_US}, {'U', 'T', EVR_UT}, {'U', 'V', EVR_UV},
  }};
  for (const Entry& e : kTable) {
    if (e.a == code[0] && e.b == code[1]) return e.evr;
  }
  return EVR_UNKNOWN;
}

// Fills `result` from a successful scan; false when an element needs DCMTK (then nothing is kept).
bool BuildDocumentsFast(std::string_view bytes, const detail::HeaderScan& scan, const detail::TagIndex& index,
                        ExtractResult& result) {
  detail::TextDecoder decoder(CharsetOf(bytes, scan.dataset));
  DocumentBuilder builder(index, decoder);
  for (const auto* elements : {&scan.meta, &scan.dataset}) {
    const bool implicit = elements == &scan.dataset && scan.implicit_vr;
    for (const detail::RawElement& e : *elements) {
      const auto [lo, hi] = builder.Entries(e.key);
      if (lo == hi) continue;
      int vr = lo->dictionary_vr;
      if (!implicit) vr = EvrOf(e.vr);
      json::value value;
      const Conversion c = RawToJson(bytes, e, vr, decoder, value);
      if (c == Conversion::kFallback) return false;
      if (c == Conversion::kValue) builder.Route(lo, hi, value);
    }
  }
  builder.Finish(result.record);
  Classify(result);
  return true;
}

void Fail(ExtractResult& result, std::string reason) {
  result.outcome = FileOutcome::kError;
  result.error = std::move(reason);
}

// The fast path: true when it produced the result; false when the file must go to DCMTK.
bool TryFastPath(int fd, Head& head, const detail::TagIndex& index, ExtractResult& result) {
  for (;;) {
    const std::string_view bytes(head.bytes.data(), head.bytes.size());
    const detail::HeaderScan scan = detail::ScanHeader(bytes, head.AtEnd(), index.sequence_tags, head.skipped);
    switch (scan.status) {
      case detail::ScanStatus::kNeedMore:
        if (!head.ReadMore(fd)) return false;  // DCMTK will read (and judge) it again
        continue;
      case detail::ScanStatus::kSkipValue:
        if (!head.Skip(scan.skip)) return false;
        continue;
      case detail::ScanStatus::kOk:
        return BuildDocumentsFast(bytes, scan, index, result);
      case detail::ScanStatus::kFallback:
        return false;
    }
  }
}

void ExtractInto(const std::string& path, const detail::TagIndex& index, bool fast_path, ExtractResult& result) {
  FileDescriptor fd(path);
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
    return Fail(result, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Fail(result, "not a regular file");
  Head head{.bytes = {}, .skipped = {}, .file_pos = 0, .size = static_cast<std::size_t>(st.st_size)};
  if (head.size == 0) {
    if (HasDicomExtension(path)) return Fail(result, "empty file");
    result.outcome = FileOutcome::kNotDicom;
    return;
  }
  if (!ReadAt(fd.get(), head.bytes, 0, std::min(head.size, kInitialHead))) {
    return Fail(result, std::string("read error: ") + std::strerror(errno));
  }
  head.file_pos = head.bytes.size();
  if (head.bytes.size() < std::min(head.size, kInitialHead)) head.size = head.bytes.size();  // shrank since fstat
  if (!LooksLikeDicom(head.bytes, static_cast<std::int64_t>(head.size))) {
    if (HasDicomExtension(path)) return Fail(result, "not DICOM: no DICM prefix and no valid dataset start");
    result.outcome = FileOutcome::kNotDicom;
    return;
  }
  if (fast_path && TryFastPath(fd.get(), head, index, result)) return;
  // DCMTK reads the file again from its start, so its verdict never depends on how far the fast scan read; the
  // scan's buffer is freed first, so a thread never holds both.
  const std::size_t size = head.size;
  head = Head{};
  result.record = ExtractedInstance{.path = path, .study = {}, .series = {}, .instance = {}};
  const Parsed parsed = ParseFile(fd.get(), size);
  if (parsed.capped) {
    return Fail(result, "header too long: more than " + std::to_string(kMaxHeaderBytes >> 20) +
                            " MiB before Pixel Data or the end of the file (values over " +
                            std::to_string(kMaxValueLength >> 10) + " KiB are skipped and not counted)");
  }
  if (parsed.io_error != 0) return Fail(result, std::string("read error: ") + std::strerror(parsed.io_error));
  if (parsed.status.bad() || parsed.status == EC_StreamNotifyClient) {
    return Fail(result, std::string("corrupt or truncated header: ") + parsed.status.text() +
                            (parsed.encoding_note.empty() ? "" : " (" + parsed.encoding_note + ")"));
  }
  return BuildDocuments(*parsed.file, parsed.encoding_note, index, result);
}

}  // namespace

Extractor::Extractor(ProfileSet profiles) : Extractor(std::move(profiles), ExtractorOptions{}) {}

Extractor::Extractor(ProfileSet profiles, ExtractorOptions options)
    : profiles_(std::move(profiles)),
      options_(options),
      index_(std::make_shared<const detail::TagIndex>(detail::BuildTagIndex(profiles_))) {
  // DCMTK logs every parser complaint to stderr; per-file problems are reported as values instead.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  // Some writers declare an explicit-VR transfer syntax in the meta header but encode the dataset implicit VR;
  // DCMTK then checks the first dataset tag instead of trusting PS3.10's (0002,0010) blindly, as pydicom does.
  dcmAutoDetectDatasetXfer.set(OFTrue);
  // PS3.5 6.2.2: a UN element whose tag the dictionary knows may be read with the dictionary's VR (e.g. files
  // re-encoded by tools that lost the VRs); otherwise their UIDs and names would be invisible.
  dcmEnableUnknownVRConversion.set(OFTrue);
}

ExtractResult Extractor::ExtractFile(const std::string& path) const {
  ExtractResult result;
  result.record.path = path;
  try {
    ExtractInto(path, *index_, options_.fast_path, result);
  } catch (const std::exception& e) {  // e.g. bad_alloc: one file must never stop a scan
    result = ExtractResult{};
    result.record.path = path;
    Fail(result, std::string("extraction failed: ") + e.what());
  }
  return result;
}

}  // namespace meta_db::extractor
