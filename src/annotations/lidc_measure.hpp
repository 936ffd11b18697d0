// pylidc's derived measures of LIDC annotations (pylidc 0.2.3 Annotation.diameter / .volume and
// Scan.cluster_annotations), computed from the outlines and the series' geometry. Formulas: docs/annotations.md.
// Pure functions; thread-safe.
#pragma once

#include <optional>
#include <utility>
#include <vector>

namespace meta_db::annotations {

// One outline as the measures need it.
struct Outline {
  double z = 0;  // imageZposition (mm)
  bool inclusion = true;
  std::vector<std::pair<int, int>> points;  // (x, y) pixels
};

// Largest distance between two points of one outline (any outline, inclusion or not; one-point outlines ignored),
// in mm with an isotropic in-plane pixel spacing. nullopt when no outline has two points.
std::optional<double> Diameter(const std::vector<Outline>& outlines, double pixel_spacing);

// Shoelace area of each outline times its slice extent (half the distance between the neighbouring outline z values,
// the first and last padded by their neighbour's distance; slice_thickness for a single outline), inclusion outlines
// added and exclusion outlines subtracted (mm^3).
double Volume(const std::vector<Outline>& outlines, double pixel_spacing, double slice_thickness);

// Groups annotations into physical nodules: two are adjacent when the smallest distance between their outline points
// in (row, column, slice index) index space is at most `tolerance` (pylidc: the slice thickness); groups are the
// connected components, and while a group has more than 4 members the tolerance shrinks by 0.9 (down to 0.1).
// `slice_z` are the series' slice positions; a point's slice index is that of the nearest slice. Returns the
// cluster index of each annotation, clusters numbered by increasing mean slice index of their members' centroids.
std::vector<int> ClusterAnnotations(const std::vector<std::vector<Outline>>& annotations,
                                    const std::vector<double>& slice_z, double tolerance);

}  // namespace meta_db::annotations
