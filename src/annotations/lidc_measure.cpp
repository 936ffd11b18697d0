// pylidc 0.2.3's measures, re-derived from its definitions (not its code): see docs/annotations.md for the formulas
// and the comparison against pylidc on the real LIDC-IDRI annotations.
#include "annotations/lidc_measure.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

namespace meta_db::annotations {

namespace {

// Index of the slice nearest to z in ascending `sorted_z` (the first of equals, as numpy's argmin).
int SliceIndex(const std::vector<double>& sorted_z, double z) {
  int best = 0;
  double best_distance = std::numeric_limits<double>::infinity();
  for (std::size_t k = 0; k < sorted_z.size(); ++k) {
    const double distance = std::fabs(sorted_z[k] - z);
    if (distance < best_distance) {
      best_distance = distance;
      best = static_cast<int>(k);
    }
  }
  return best;
}

// One slice's points of an annotation (a contiguous run of IndexPoints::points) and their in-plane bounding box.
struct SliceRun {
  int k = 0;
  std::size_t begin = 0, end = 0;
  std::array<int, 2> low{}, high{};
};

struct IndexPoints {
  std::vector<std::array<int, 3>> points;  // (row, column, slice index), ordered by slice index
  std::vector<SliceRun> slices;            // ascending k
  std::array<int, 3> low{}, high{};
  double mean_k = 0;
};

IndexPoints ToIndexSpace(const std::vector<Outline>& outlines, const std::vector<double>& sorted_z) {
  IndexPoints out;
  out.low = {std::numeric_limits<int>::max(), std::numeric_limits<int>::max(), std::numeric_limits<int>::max()};
  out.high = {std::numeric_limits<int>::min(), std::numeric_limits<int>::min(), std::numeric_limits<int>::min()};
  double k_sum = 0;
  for (const Outline& outline : outlines) {
    const int k = SliceIndex(sorted_z, outline.z);
    for (const auto& [x, y] : outline.points) {
      const std::array<int, 3> point{y, x, k};
      for (int axis = 0; axis < 3; ++axis) {
        out.low[axis] = std::min(out.low[axis], point[axis]);
        out.high[axis] = std::max(out.high[axis], point[axis]);
      }
      out.points.push_back(point);
      k_sum += k;
    }
  }
  if (!out.points.empty()) out.mean_k = k_sum / static_cast<double>(out.points.size());
  std::stable_sort(out.points.begin(), out.points.end(), [](const auto& p, const auto& q) { return p[2] < q[2]; });
  for (std::size_t i = 0; i < out.points.size(); ++i) {
    const auto& p = out.points[i];
    if (out.slices.empty() || out.slices.back().k != p[2]) {
      out.slices.push_back({.k = p[2], .begin = i, .end = i, .low = {p[0], p[1]}, .high = {p[0], p[1]}});
    }
    SliceRun& run = out.slices.back();
    run.end = i + 1;
    for (int axis = 0; axis < 2; ++axis) {
      run.low[axis] = std::min(run.low[axis], p[axis]);
      run.high[axis] = std::max(run.high[axis], p[axis]);
    }
  }
  return out;
}

double Gap(int low_a, int high_a, int low_b, int high_b) {
  return static_cast<double>(std::max({0, low_a - high_b, low_b - high_a}));
}

// The smallest point distance, or +inf when no two points are within `limit` (only distances up to the starting
// tolerance ever decide adjacency). Slice pairs whose bounding boxes are already farther apart than the best distance
// so far, or than `limit`, are skipped: the minimum over the remaining pairs is the same number (squared distances
// of integer points are exact in a double), at a fraction of the pylidc-style all-pairs cost.
double MinDistance(const IndexPoints& a, const IndexPoints& b, double limit) {
  if (a.points.empty() || b.points.empty()) return std::numeric_limits<double>::infinity();
  double gap2 = 0;
  for (int axis = 0; axis < 3; ++axis) {
    const double gap = Gap(a.low[axis], a.high[axis], b.low[axis], b.high[axis]);
    gap2 += gap * gap;
  }
  if (std::sqrt(gap2) > limit) return std::numeric_limits<double>::infinity();
  // A little over limit^2, so rounding can never drop a pair whose distance is within `limit`.
  const double limit2 = limit * limit * (1 + 1e-9) + 1e-9;
  double best2 = std::numeric_limits<double>::infinity();
  for (const SliceRun& sa : a.slices) {
    for (const SliceRun& sb : b.slices) {
      const double dk = sb.k - sa.k;
      const double bound2 = dk * dk + std::pow(Gap(sa.low[0], sa.high[0], sb.low[0], sb.high[0]), 2) +
                            std::pow(Gap(sa.low[1], sa.high[1], sb.low[1], sb.high[1]), 2);
      if (bound2 >= best2 || bound2 > limit2) continue;
      for (std::size_t i = sa.begin; i < sa.end; ++i) {
        const auto& p = a.points[i];
        for (std::size_t j = sb.begin; j < sb.end; ++j) {
          const auto& q = b.points[j];
          const double d0 = p[0] - q[0], d1 = p[1] - q[1];
          best2 = std::min(best2, d0 * d0 + d1 * d1 + dk * dk);
        }
      }
      if (best2 == 0) return 0;
    }
  }
  return best2 > limit2 ? std::numeric_limits<double>::infinity() : std::sqrt(best2);
}

// Connected components labelled in order of their smallest member (scipy's connected_components order).
std::vector<int> Components(const std::vector<std::vector<double>>& distance, double tolerance, int& count) {
  const std::size_t n = distance.size();
  std::vector<int> label(n, -1);
  count = 0;
  for (std::size_t start = 0; start < n; ++start) {
    if (label[start] >= 0) continue;
    std::vector<std::size_t> stack{start};
    label[start] = count;
    while (!stack.empty()) {
      const std::size_t i = stack.back();
      stack.pop_back();
      for (std::size_t j = 0; j < n; ++j) {
        if (label[j] < 0 && distance[i][j] <= tolerance) {
          label[j] = count;
          stack.push_back(j);
        }
      }
    }
    ++count;
  }
  return label;
}

}  // namespace

std::optional<double> Diameter(const std::vector<Outline>& outlines, double pixel_spacing) {
  std::optional<double> greatest;
  for (const Outline& outline : outlines) {
    if (outline.points.size() < 2) continue;
    double best2 = 0;
    for (std::size_t i = 0; i < outline.points.size(); ++i) {
      for (std::size_t j = i + 1; j < outline.points.size(); ++j) {
        const double dx = outline.points[i].first - outline.points[j].first;
        const double dy = outline.points[i].second - outline.points[j].second;
        best2 = std::max(best2, dx * dx + dy * dy);
      }
    }
    const double diameter = std::sqrt(best2) * pixel_spacing;
    if (!greatest || diameter > *greatest) greatest = diameter;
  }
  return greatest;
}

double Volume(const std::vector<Outline>& outlines, double pixel_spacing, double slice_thickness) {
  std::vector<double> z;
  for (const Outline& outline : outlines) z.push_back(outline.z);
  std::sort(z.begin(), z.end());
  z.erase(std::unique(z.begin(), z.end()), z.end());
  // pylidc pads the unique outline positions by one step at each end; with a single outline it uses the slice
  // thickness. (Several outlines on one slice only: pylidc fails there; the thickness is used.)
  const bool padded = outlines.size() != 1 && z.size() >= 2;
  if (padded) {
    const double low = z[0] - (z[1] - z[0]);
    const double high = z.back() + (z.back() - z[z.size() - 2]);
    z.insert(z.begin(), low);
    z.push_back(high);
  }
  double volume = 0;
  for (const Outline& outline : outlines) {
    double twice_area = 0;
    const std::size_t n = outline.points.size();
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [x0, y0] = outline.points[i];
      const auto& [x1, y1] = outline.points[(i + 1) % n];
      twice_area += static_cast<double>(x0) * y1 - static_cast<double>(x1) * y0;
    }
    const double area = 0.5 * std::fabs(twice_area) * pixel_spacing * pixel_spacing;
    double extent = slice_thickness;
    if (padded) {
      std::size_t j = 0;
      for (std::size_t k = 1; k < z.size(); ++k) {
        if (std::fabs(outline.z - z[k]) < std::fabs(outline.z - z[j])) j = k;
      }
      extent = 0.5 * (z[j + 1] - z[j - 1]);
    }
    volume += (outline.inclusion ? 1.0 : -1.0) * area * extent;
  }
  return volume;
}

std::vector<int> ClusterAnnotations(const std::vector<std::vector<Outline>>& annotations,
                                    const std::vector<double>& slice_z, double tolerance) {
  const std::size_t n = annotations.size();
  if (n == 0) return {};
  std::vector<double> sorted_z = slice_z;
  std::sort(sorted_z.begin(), sorted_z.end());
  if (sorted_z.empty()) sorted_z.push_back(0);
  std::vector<IndexPoints> points;
  points.reserve(n);
  for (const auto& outlines : annotations) points.push_back(ToIndexSpace(outlines, sorted_z));
  std::vector<std::vector<double>> distance(n, std::vector<double>(n, 0));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) distance[i][j] = distance[j][i] = MinDistance(points[i], points[j], tolerance);
  }
  int count = 0;
  std::vector<int> label = Components(distance, tolerance, count);
  const auto oversized = [&] {
    std::vector<int> sizes(static_cast<std::size_t>(count), 0);
    for (int l : label) ++sizes[static_cast<std::size_t>(l)];
    return std::any_of(sizes.begin(), sizes.end(), [](int size) { return size > 4; });
  };
  while (oversized()) {
    tolerance *= 0.9;
    if (tolerance < 0.1) break;
    label = Components(distance, tolerance, count);
  }
  // Clusters ordered by the mean over members of their centroid's slice index (a stable sort, as Python's).
  std::vector<double> mean_k(static_cast<std::size_t>(count), 0);
  std::vector<int> members(static_cast<std::size_t>(count), 0);
  for (std::size_t i = 0; i < n; ++i) {
    mean_k[static_cast<std::size_t>(label[i])] += points[i].mean_k;
    ++members[static_cast<std::size_t>(label[i])];
  }
  std::vector<int> order(static_cast<std::size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return mean_k[static_cast<std::size_t>(a)] / members[static_cast<std::size_t>(a)] <
           mean_k[static_cast<std::size_t>(b)] / members[static_cast<std::size_t>(b)];
  });
  std::vector<int> rank(static_cast<std::size_t>(count));
  for (int position = 0; position < count; ++position) rank[static_cast<std::size_t>(order[static_cast<std::size_t>(position)])] = position;
  std::vector<int> cluster(n);
  for (std::size_t i = 0; i < n; ++i) cluster[i] = rank[static_cast<std::size_t>(label[i])];
  return cluster;
}

}  // namespace meta_db::annotations
