// Series geometry and QC facets (`series.qc`): slice spacing along the slice normal, gaps, duplicate positions,
// InstanceNumber holes, mixed orientation / pixel spacing, reconstruction-kernel class, and the flags naming each
// problem. Pure functions of a series' instance headers (definitions and tolerances: docs/qc.md).
// Thread-safety: reentrant. Errors: none (malformed or missing values count as absent).
#pragma once

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace meta_db::catalog {

// What the facets need of one instance: a few numbers instead of its whole document, so a bulk writer can keep the
// geometry of every instance it wrote.
struct SliceGeometry {
  std::optional<std::array<double, 3>> position;     // ImagePositionPatient (PS3.3 C.7.6.2.1.1), mm
  std::optional<std::array<double, 6>> orientation;  // ImageOrientationPatient: row then column direction cosines
  std::optional<std::array<double, 2>> pixel_spacing;  // PixelSpacing: row spacing, column spacing, mm
  std::optional<std::int64_t> instance_number;
};

// The geometry an instance document carries (its metadata, as the instance tag profile keeps it).
SliceGeometry GeometryOf(const boost::json::object& instance);

// The vocabulary of `qc.flags` and `qc.kernel_class`, as the API validates them.
inline constexpr std::array<std::string_view, 7> kQcFlags = {
    "missing_slices",  "duplicate_positions", "instance_number_holes", "mixed_orientation",
    "mixed_pixel_spacing", "irregular_spacing", "no_geometry"};
inline constexpr std::array<std::string_view, 4> kKernelClasses = {"soft", "standard", "sharp", "unknown"};

// "soft" | "standard" | "sharp" | "unknown" for a vendor's ConvolutionKernel name (table: docs/qc.md).
std::string_view KernelClass(std::string_view kernel);

// The `qc` object of a series with these instances (any order); `series` supplies ConvolutionKernel and the
// series-level ImageOrientationPatient / PixelSpacing an instance lacks.
boost::json::object SeriesQc(const std::vector<SliceGeometry>& slices, const boost::json::object& series);

}  // namespace meta_db::catalog
