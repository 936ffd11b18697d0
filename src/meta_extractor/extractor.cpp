// Header-only DICOM extraction: bounded head read, content sniffing, DCMTK parse from memory, documents by profile.
#include "meta_extractor/extractor.hpp"

#include "meta_extractor/dicom_values.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/oflog/oflog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

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
  const std::uint32_t len_le = static_cast<std::uint32_t>(Le16(head.data() + 4)) |
                               (static_cast<std::uint32_t>(Le16(head.data() + 6)) << 16);
  return plausible_group(g_le) && len_le <= static_cast<std::uint64_t>(file_size) && len_le % 2 == 0;
}

struct Parsed {
  std::unique_ptr<DcmFileFormat> file;
  OFCondition status = EC_Normal;
};

// Parses the head bytes. With `eos` false the head is a prefix and DCMTK reports EC_StreamNotifyClient when it
// needs more; with `eos` true the head is the whole file, so any incomplete element means a truncated file.
Parsed ParseHead(const std::vector<char>& head, bool eos) {
  Parsed parsed;
  parsed.file = std::make_unique<DcmFileFormat>();
  DcmInputBufferStream stream;
  stream.setBuffer(head.data(), static_cast<offile_off_t>(head.size()));
  if (eos) stream.setEos();
  parsed.file->transferInit();
  parsed.status =
      parsed.file->readUntilTag(stream, EXS_Unknown, EGL_noChange, kMaxValueLength, DCM_PixelData);
  parsed.file->transferEnd();
  stream.releaseBuffer();
  return parsed;
}


// Promoted fields (the seed's schema): always read, stored top-level only when non-empty, never in metadata.
enum class Kind { kString, kInteger };
struct Promoted {
  DcmTagKey tag;
  const char* field;
  Kind kind;
};
const std::array<Promoted, 4> kStudyPromoted = {{{DCM_StudyInstanceUID, "study_instance_uid", Kind::kString},
                                                    {DCM_AccessionNumber, "accession_number", Kind::kString},
                                                    {DCM_PatientID, "patient_id", Kind::kString},
                                                    {DCM_StudyDate, "study_date", Kind::kString}}};
const std::array<Promoted, 4> kSeriesPromoted = {
    {{DCM_SeriesInstanceUID, "series_instance_uid", Kind::kString},
     {DCM_SeriesNumber, "series_number", Kind::kInteger},
     {DCM_SeriesDescription, "series_description", Kind::kString},
     {DCM_Modality, "modality", Kind::kString}}};
const std::array<Promoted, 3> kInstancePromoted = {
    {{DCM_SOPInstanceUID, "sop_instance_uid", Kind::kString},
     {DCM_SOPClassUID, "sop_class_uid", Kind::kString},
     {DCM_InstanceNumber, "instance_number", Kind::kInteger}}};

template <std::size_t N>
bool IsPromoted(const std::array<Promoted, N>& promoted, const ProfileTag& tag) {
  return std::any_of(promoted.begin(), promoted.end(), [&](const Promoted& p) {
    return p.tag.getGroup() == tag.group && p.tag.getElement() == tag.element;
  });
}

// Everything needed to turn one parsed file into the three level documents.
class DocumentBuilder {
 public:
  DocumentBuilder(DcmDataset& dataset, DcmMetaInfo* meta, detail::TextDecoder& decoder)
      : dataset_(dataset), meta_(meta), decoder_(decoder) {}

  // The first value as JSON (string or number), nullopt when missing or empty.
  std::optional<json::value> First(const DcmTagKey& key) {
    DcmElement* element = Find(key);
    if (element == nullptr || element->getLength() == 0) return std::nullopt;
    std::optional<json::value> v = detail::ElementToJson(*element, 0, decoder_);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_array()) {
      if (v->as_array().empty()) return std::nullopt;
      return v->as_array().front();
    }
    if (v->is_string() && v->as_string().empty()) return std::nullopt;
    return v;
  }

  std::string FirstString(const DcmTagKey& key) {
    std::optional<json::value> v = First(key);
    return (v && v->is_string()) ? std::string(v->as_string()) : std::string();
  }

  template <std::size_t N>
  json::object Level(const TagProfile& profile, const std::array<Promoted, N>& promoted) {
    json::object doc;
    for (const Promoted& p : promoted) {
      if (std::optional<json::value> v = First(p.tag)) doc[p.field] = std::move(*v);
    }
    json::object metadata;
    for (const ProfileTag& tag : profile.tags) {
      if (IsPromoted(promoted, tag)) continue;
      DcmElement* element = Find(DcmTagKey(tag.group, tag.element));
      if (element == nullptr) continue;
      if (std::optional<json::value> v = detail::ElementToJson(*element, 0, decoder_)) {
        metadata[tag.keyword] = std::move(*v);
      }
    }
    doc["metadata"] = std::move(metadata);
    return doc;
  }

 private:
  DcmElement* Find(const DcmTagKey& key) {
    DcmItem* item = key.getGroup() == 0x0002 ? static_cast<DcmItem*>(meta_) : &dataset_;
    DcmElement* element = nullptr;
    if (item == nullptr || item->findAndGetElement(key, element).bad()) return nullptr;
    return element;
  }

  DcmDataset& dataset_;
  DcmMetaInfo* meta_;
  detail::TextDecoder& decoder_;
};

void BuildDocuments(DcmFileFormat& file, const ProfileSet& profiles, ExtractResult& result) {
  DcmDataset& dataset = *file.getDataset();
  OFString charset;
  if (dataset.findAndGetOFStringArray(DCM_SpecificCharacterSet, charset).bad()) charset.clear();
  detail::TextDecoder decoder(std::string(charset.c_str(), charset.length()));
  DocumentBuilder builder(dataset, file.getMetaInfo(), decoder);
  ExtractedInstance& record = result.record;
  record.study = builder.Level(profiles.study, kStudyPromoted);
  record.series = builder.Level(profiles.series, kSeriesPromoted);
  record.instance = builder.Level(profiles.instance, kInstancePromoted);
  // acquisition_datetime: AcquisitionDateTime (DT), else AcquisitionDate + AcquisitionTime, which concatenate
  // to the same DT form YYYYMMDDHHMMSS.FFFFFF (PS3.5 6.2).
  std::string when = builder.FirstString(DCM_AcquisitionDateTime);
  if (when.empty()) {
    when = builder.FirstString(DCM_AcquisitionDate);
    if (!when.empty()) when += builder.FirstString(DCM_AcquisitionTime);
  }
  if (!when.empty()) record.instance["acquisition_datetime"] = when;

  std::string missing;
  for (const auto& [key, name] : {std::pair{DCM_StudyInstanceUID, "StudyInstanceUID"},
                                  std::pair{DCM_SeriesInstanceUID, "SeriesInstanceUID"},
                                  std::pair{DCM_SOPInstanceUID, "SOPInstanceUID"}}) {
    if (builder.FirstString(key).empty()) missing += (missing.empty() ? "" : ", ") + std::string(name);
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

void ExtractInto(const std::string& path, const ProfileSet& profiles, ExtractResult& result) {
  FileDescriptor fd(path);
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) return Fail(result, std::string("cannot open: ") + std::strerror(errno));
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
    return BuildDocuments(*parsed.file, profiles, result);
  }
}

}  // namespace

Extractor::Extractor(ProfileSet profiles) : profiles_(std::move(profiles)) {
  // DCMTK logs every parser complaint to stderr; per-file problems are reported as values instead.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  // Some writers declare an explicit-VR transfer syntax in the meta header but encode the dataset implicit VR;
  // DCMTK then checks the first dataset tag instead of trusting PS3.10's (0002,0010) blindly, as pydicom does.
  dcmAutoDetectDatasetXfer.set(OFTrue);
}

ExtractResult Extractor::ExtractFile(const std::string& path) const {
  ExtractResult result;
  result.record.path = path;
  try {
    ExtractInto(path, profiles_, result);
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
