// Header-only DICOM extraction: bounded head read, content sniffing, DCMTK parse from memory, documents by profile.
#include "meta_extractor/extractor.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/oflog/oflog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <tuple>
#include <vector>

#include "meta_extractor/dicom_values.hpp"
#include "meta_extractor/tag_index.hpp"

namespace meta_db::extractor {
namespace {

namespace json = boost::json;

// First read covers a typical CT header (~2 KiB) with room; longer headers grow the read 4x at a time.
constexpr std::size_t kInitialHead = 16 * 1024;
// Values longer than this are skipped by DCMTK while parsing (never bulk data we would emit anyway); this also
// bounds allocations when a corrupt length field claims gigabytes.
constexpr Uint32 kMaxValueLength = 64 * 1024;

class FileDescriptor {
 public:
  explicit FileDescriptor(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
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

bool IsVrCode(const char* p) {
  static constexpr std::array<const char*, 34> kVrs = {
      "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV",
      "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  return std::any_of(kVrs.begin(), kVrs.end(), [p](const char* vr) { return p[0] == vr[0] && p[1] == vr[1]; });
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
  if (IsVrCode(head.data() + 4)) return true;
  const std::uint32_t len_le =
      static_cast<std::uint32_t>(Le16(head.data() + 4)) | (static_cast<std::uint32_t>(Le16(head.data() + 6)) << 16);
  return plausible_group(g_le) && len_le <= static_cast<std::uint64_t>(file_size) && len_le % 2 == 0;
}

// Values longer than kMaxValueLength are only skipped by DCMTK if the stream can re-open itself later; a plain
// DcmInputBufferStream cannot, so DCMTK would allocate whatever length a corrupt header claims (we saw 4 GiB
// requests from 6 KiB files). This stream offers a factory whose streams are empty: such values are skipped
// while parsing and can never be loaded (ElementToJson omits values that are not loaded).
class NoReloadFactory : public DcmInputStreamFactory {
 public:
  DcmInputStream* create() const override {
    auto stream = std::make_unique<DcmInputBufferStream>();
    stream->setEos();
    return stream.release();  // DCMTK takes ownership
  }
  DcmInputStreamFactory* clone() const override { return std::make_unique<NoReloadFactory>().release(); }
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputTempFileStreamFactory; }
};

class HeadStream : public DcmInputBufferStream {
 public:
  DcmInputStreamFactory* newFactory() const override { return std::make_unique<NoReloadFactory>().release(); }
};

struct Parsed {
  std::unique_ptr<DcmFileFormat> file;
  OFCondition status = EC_Normal;
};

// Parses the head bytes. With `eos` false the head is a prefix and DCMTK reports EC_StreamNotifyClient when it
// needs more; with `eos` true the head is the whole file, so any incomplete element means a truncated file.
Parsed ParseHead(const std::vector<char>& head, bool eos) {
  Parsed parsed;
  parsed.file = std::make_unique<DcmFileFormat>();
  HeadStream stream;
  stream.setBuffer(head.data(), static_cast<offile_off_t>(head.size()));
  if (eos) stream.setEos();
  parsed.file->transferInit();
  parsed.status = parsed.file->readUntilTag(stream, EXS_Unknown, EGL_noChange, kMaxValueLength, DCM_PixelData);
  parsed.file->transferEnd();
  stream.releaseBuffer();
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

  void Add(DcmElement& element) {
    const std::uint32_t key = (static_cast<std::uint32_t>(element.getGTag()) << 16) | element.getETag();
    auto it = std::lower_bound(index_.entries.begin(), index_.entries.end(), key,
                               [](const detail::IndexEntry& e, std::uint32_t k) { return e.key < k; });
    std::optional<json::value> value;
    bool converted = false;
    for (; it != index_.entries.end() && it->key == key; ++it) {
      if (!converted) {
        value = detail::ElementToJson(element, 0, decoder_);
        converted = true;
      }
      if (!value) return;
      Route(*it, *value);
    }
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

void BuildDocuments(DcmFileFormat& file, const detail::TagIndex& index, ExtractResult& result) {
  DcmDataset& dataset = *file.getDataset();
  OFString charset;
  if (dataset.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).bad()) charset.clear();
  detail::TextDecoder decoder(std::string(charset.c_str(), charset.length()));
  DocumentBuilder builder(index, decoder);
  builder.AddAll(file.getMetaInfo());
  builder.AddAll(&dataset);
  ExtractedInstance& record = result.record;
  builder.Finish(record);
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

void Fail(ExtractResult& result, std::string reason) {
  result.outcome = FileOutcome::kError;
  result.error = std::move(reason);
}

void ExtractInto(const std::string& path, const detail::TagIndex& index, ExtractResult& result) {
  FileDescriptor fd(path);
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0)
    return Fail(result, std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Fail(result, "not a regular file");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0) {
    if (HasDicomExtension(path)) return Fail(result, "empty file");
    result.outcome = FileOutcome::kNotDicom;
    return;
  }
  std::vector<char> head;
  if (!ReadAt(fd.get(), head, 0, std::min(size, kInitialHead))) {
    return Fail(result, std::string("read error: ") + std::strerror(errno));
  }
  if (!LooksLikeDicom(head, st.st_size)) {
    if (HasDicomExtension(path)) return Fail(result, "not DICOM: no DICM prefix and no valid dataset start");
    result.outcome = FileOutcome::kNotDicom;
    return;
  }
  for (;;) {
    const bool eos = head.size() >= size;
    Parsed parsed = ParseHead(head, eos);
    if (!eos && parsed.status == EC_StreamNotifyClient) {  // header longer than what we read: read 4x more
      const std::size_t want = std::min(size, head.size() * 4) - head.size();
      if (!ReadAt(fd.get(), head, head.size(), want) || want == 0) return Fail(result, "read error");
      continue;
    }
    if (parsed.status.bad() || parsed.status == EC_StreamNotifyClient) {
      return Fail(result, std::string("corrupt or truncated header: ") + parsed.status.text());
    }
    return BuildDocuments(*parsed.file, index, result);
  }
}

}  // namespace

Extractor::Extractor(ProfileSet profiles)
    : profiles_(std::move(profiles)),
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
    ExtractInto(path, *index_, result);
  } catch (const std::exception& e) {  // e.g. bad_alloc: one file must never stop a scan
    result = ExtractResult{};
    result.record.path = path;
    Fail(result, std::string("extraction failed: ") + e.what());
  }
  return result;
}

json::object ToExtractLine(const ExtractResult& result) {
  json::object line;
  line["path"] = result.record.path;
  if (result.outcome != FileOutcome::kDicom) line["error"] = result.error;
  if (result.outcome == FileOutcome::kDicom || result.outcome == FileOutcome::kIncomplete) {
    line["study"] = result.record.study;
    line["series"] = result.record.series;
    line["instance"] = result.record.instance;
  }
  return line;
}

}  // namespace meta_db::extractor
