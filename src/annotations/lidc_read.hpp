// Reading one LIDC-IDRI reader XML file (LidcReadMessage): its series, its reading sessions and every mark.
// Thread-safety: ReadLidcFile is reentrant. Errors: none thrown for file content; the outcome says what happened.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace meta_db::annotations {

// One outline on one slice (an LIDC <roi>), in image pixel coordinates (x = column, y = row).
struct Roi {
  std::string sop_instance_uid;  // imageSOP_UID ("" when absent)
  std::optional<double> z_position;  // imageZposition
  bool inclusion = true;
  std::vector<std::pair<int, int>> points;  // edgeMap (xCoord, yCoord)
};

enum class MarkKind { kNodule, kSmallNodule, kNonNodule };

// The nine LIDC characteristics, in this order (pylidc's feature order).
inline constexpr std::array<const char*, 9> kRatingNames{"subtlety",   "internal_structure", "calcification",
                                                         "sphericity", "margin",             "lobulation",
                                                         "spiculation", "texture",           "malignancy"};

// One reader's mark: an unblindedReadNodule (with characteristics: a nodule >= 3 mm; without: a small nodule) or
// a nonNodule (its locus as a one-point roi).
struct Mark {
  int session = 0;               // index of its readingSession in the file, from 0
  std::string radiologist_id;    // servicingRadiologistID
  MarkKind kind = MarkKind::kNodule;
  std::string nodule_id;
  std::optional<std::array<int, 9>> ratings;  // nodules only; kRatingNames order
  std::vector<Roi> rois;
};

struct LidcRead {
  std::string series_instance_uid, study_instance_uid;
  int sessions = 0;
  std::vector<Mark> marks;
};

struct ReadOutcome {
  bool is_lidc = false;  // false: not a LidcReadMessage (left to the caller, e.g. skipped as non-DICOM)
  std::string error;     // is_lidc and not usable: why (malformed XML, no SeriesInstanceUid, too large)
  std::optional<LidcRead> read;
};

// True when the first bytes of a file are an XML document whose root element is LidcReadMessage (a cheap sniff:
// it decides whether the file is parsed at all).
bool LooksLikeLidcRead(const std::string& path);

// Parses the file if it is a LidcReadMessage; never reads more than kMaxLidcBytes.
ReadOutcome ReadLidcFile(const std::string& path);

inline constexpr std::size_t kMaxLidcBytes = std::size_t{64} << 20;

std::string_view KindName(MarkKind kind);

}  // namespace meta_db::annotations
