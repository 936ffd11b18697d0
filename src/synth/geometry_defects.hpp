// Which synthetic CT series carry a geometry defect (a missing slice, a duplicate position, an InstanceNumber hole, a
// mixed orientation), how their slices are laid out, and the QC flags (docs/qc.md) a catalogue must then report.
// Thread-safety: pure functions.
#pragma once

#include <boost/json/array.hpp>

#include <string_view>

namespace meta_db::synth {

enum class GeometryDefect { kNone, kMissingSlice, kDuplicatePosition, kInstanceNumberHole, kMixedOrientation };

// Deterministic by patient number: patients 3, 7, 11, 15 (mod 20) in that order; every other CT series is clean.
GeometryDefect DefectOf(int patient);

// The slice (1-based index) a defect touches in a series of `images` slices: the middle one.
int DefectSlice(int images);
// Whether slice `index` is left out (the missing slice).
bool SkipsSlice(GeometryDefect defect, int images, int index);
// The InstanceNumber written for slice `index`: numbers jump by two at the hole.
int InstanceNumberOf(GeometryDefect defect, int images, int index);
// Whether slice `index` is written with kTiltedOrientation instead of the series' axial orientation.
bool IsTilted(GeometryDefect defect, int images, int index);
// A duplicate-position series has one more file: instance images+1 at the position of DefectSlice(images).
bool HasDuplicateFile(GeometryDefect defect);

// A 7° tilt about the patient's x axis (row cosines unchanged).
inline constexpr std::string_view kTiltedOrientation =
    "1.000000\\0.000000\\0.000000\\0.000000\\0.992546\\-0.121869";

// The expected `qc.flags` of a series of this modality with this defect (non-CT series carry no geometry).
boost::json::array ExpectedQcFlags(std::string_view modality, GeometryDefect defect);

}  // namespace meta_db::synth
