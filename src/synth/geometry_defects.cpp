// The synthetic archive's geometry defects and the QC flags they must raise.
#include "synth/geometry_defects.hpp"

namespace meta_db::synth {

GeometryDefect DefectOf(int patient) {
  switch (patient % 20) {
    case 3: return GeometryDefect::kMissingSlice;
    case 7: return GeometryDefect::kDuplicatePosition;
    case 11: return GeometryDefect::kInstanceNumberHole;
    case 15: return GeometryDefect::kMixedOrientation;
    default: return GeometryDefect::kNone;
  }
}

int DefectSlice(int images) { return images / 2; }

bool SkipsSlice(GeometryDefect defect, int images, int index) {
  return defect == GeometryDefect::kMissingSlice && index == DefectSlice(images);
}

int InstanceNumberOf(GeometryDefect defect, int images, int index) {
  return defect == GeometryDefect::kInstanceNumberHole && index >= DefectSlice(images) ? index + 1 : index;
}

bool IsTilted(GeometryDefect defect, int images, int index) {
  return defect == GeometryDefect::kMixedOrientation && index == DefectSlice(images);
}

bool HasDuplicateFile(GeometryDefect defect) { return defect == GeometryDefect::kDuplicatePosition; }

boost::json::array ExpectedQcFlags(std::string_view modality, GeometryDefect defect) {
  if (modality != "CT") return {"no_geometry"};  // radiographs carry no ImagePositionPatient
  switch (defect) {
    // A missing file takes its InstanceNumber with it.
    case GeometryDefect::kMissingSlice: return {"missing_slices", "instance_number_holes"};
    case GeometryDefect::kDuplicatePosition: return {"duplicate_positions"};
    case GeometryDefect::kInstanceNumberHole: return {"instance_number_holes"};
    case GeometryDefect::kMixedOrientation: return {"mixed_orientation"};
    case GeometryDefect::kNone: break;
  }
  return {};
}

}  // namespace meta_db::synth
