// pylidc's measures on hand-computed shapes: chord diameter, shoelace volume with padded slice extents and exclusion
// outlines, and clustering (tolerance, the >4 reduction, order by slice).
#include "annotations/lidc_measure.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace meta_db::annotations {
namespace {

Outline Square(double z, int x0, int y0, int side, bool inclusion = true) {
  return {.z = z, .inclusion = inclusion, .points = {{x0, y0}, {x0 + side, y0}, {x0 + side, y0 + side}, {x0, y0 + side}}};
}

TEST(LidcMeasure, DiameterIsTheLongestChordOfAnyOutline) {
  EXPECT_DOUBLE_EQ(*Diameter({Square(0, 0, 0, 3), Square(1, 0, 0, 4)}, 0.5), 0.5 * std::sqrt(32.0));
  EXPECT_FALSE(Diameter({{.z = 0, .inclusion = true, .points = {{5, 5}}}}, 0.7).has_value());
}

TEST(LidcMeasure, VolumeAddsShoelaceAreasTimesPaddedExtents) {
  // Outlines at z 0, 2, 3: padded to -2 .. 4, extents 0.5*(2-(-2))=2, 0.5*(3-0)=1.5, 0.5*(4-2)=1.
  const double area = 16 * 0.25;  // a 4x4-pixel square at 0.5 mm
  EXPECT_DOUBLE_EQ(Volume({Square(0, 0, 0, 4), Square(2, 0, 0, 4), Square(3, 0, 0, 4)}, 0.5, 9),
                   area * 2 + area * 1.5 + area * 1);
  // An exclusion outline subtracts; a single outline uses the slice thickness.
  EXPECT_DOUBLE_EQ(Volume({Square(0, 0, 0, 4), Square(0, 1, 1, 2, false), Square(1, 0, 0, 4)}, 1, 9),
                   16 * 1 - 4 * 1 + 16 * 1);
  EXPECT_DOUBLE_EQ(Volume({Square(5, 0, 0, 4)}, 1, 2.5), 16 * 2.5);
}

TEST(LidcMeasure, ClustersAreComponentsWithinTheToleranceOrderedBySlice) {
  const std::vector<double> z{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  // Two readers at (100,100) slices 6-7, one at (300,300) slice 1, one touching the first two.
  const std::vector<std::vector<Outline>> marks{{Square(6, 100, 100, 5), Square(7, 100, 100, 5)},
                                                {Square(1, 300, 300, 5)},
                                                {Square(7, 101, 101, 4)},
                                                {Square(6, 106, 100, 3)}};
  const std::vector<int> cluster = ClusterAnnotations(marks, z, 1.0);
  EXPECT_EQ(cluster, (std::vector<int>{1, 0, 1, 1}));
  // Five overlapping marks: the tolerance shrinks until no group has more than four.
  std::vector<std::vector<Outline>> crowded;
  for (int i = 0; i < 4; ++i) crowded.push_back({Square(2, 50, 50, 10)});
  crowded.push_back({Square(2, 62, 50, 10)});  // 2 pixels from the others
  const std::vector<int> split = ClusterAnnotations(crowded, z, 2.5);
  EXPECT_EQ(split, (std::vector<int>{0, 0, 0, 0, 1}));
}

}  // namespace
}  // namespace meta_db::annotations
