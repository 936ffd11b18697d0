// Synthetic LidcReadMessage files: nodules as ellipsoids marked by each of their readers with a slightly different
// outline, far enough apart that pylidc's clustering groups exactly one physical nodule's marks (docs/annotations.md).
#include "synth/lidc_xml.hpp"

#include "common/split_mix.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>

namespace meta_db::synth {

namespace {

using Random = SplitMix64;  // common/split_mix.hpp: identical output on every platform

std::uint64_t SeedOf(std::uint64_t seed, const std::string& uid) {
  std::uint64_t h = seed ^ 0xA5A5A5A5ULL;
  for (char c : uid) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ULL;
  return h;
}

std::string Fixed(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", value);
  return text;
}

struct Nodule {
  int cx = 0, cy = 0;    // centre (pixels)
  int slice = 0;         // centre slice (index into the series' slices)
  double radius = 0;     // pixels
  int half_slices = 0;   // slices above and below the centre that it spans
  std::array<bool, 4> readers{};
};

void Outline(std::string& xml, const SynthSlice& slice, int cx, int cy, double r) {
  xml += "      <roi>\n        <imageZposition>" + Fixed(slice.z) + "</imageZposition>\n        <imageSOP_UID>" +
         slice.sop_instance_uid + "</imageSOP_UID>\n        <inclusion>TRUE</inclusion>\n";
  const int steps = std::max(8, static_cast<int>(2 * 3.14159265358979 * r));
  int last_x = -1, last_y = -1;
  for (int i = 0; i <= steps; ++i) {
    const double angle = 2 * 3.14159265358979 * i / steps;
    const int x = cx + static_cast<int>(std::lround(r * std::cos(angle)));
    const int y = cy + static_cast<int>(std::lround(r * std::sin(angle)));
    if (x == last_x && y == last_y) continue;
    last_x = x;
    last_y = y;
    xml += "        <edgeMap><xCoord>" + std::to_string(x) + "</xCoord><yCoord>" + std::to_string(y) +
           "</yCoord></edgeMap>\n";
  }
  xml += "      </roi>\n";
}

void Point(std::string& xml, const char* tag, const SynthSlice& slice, int x, int y) {
  xml += std::string("      <") + tag + ">\n        <imageZposition>" + Fixed(slice.z) + "</imageZposition>\n" +
         "        <imageSOP_UID>" + slice.sop_instance_uid + "</imageSOP_UID>\n";
  if (std::string(tag) == "roi") xml += "        <inclusion>TRUE</inclusion>\n";
  xml += std::string("        <") + (std::string(tag) == "roi" ? "edgeMap" : "locus") + "><xCoord>" +
         std::to_string(x) + "</xCoord><yCoord>" + std::to_string(y) + "</yCoord></" +
         (std::string(tag) == "roi" ? "edgeMap" : "locus") + ">\n      </" + tag + ">\n";
}

std::string Header(const LidcSeries& series) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LidcReadMessage uid=\"" + series.series_uid +
         ".1\" xmlns=\"http://www.nih.gov\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n"
         "  <ResponseHeader>\n    <Version>1.8.1</Version>\n    <StudyInstanceUID>" + series.study_uid +
         "</StudyInstanceUID>\n    <SeriesInstanceUid>" + series.series_uid +
         "</SeriesInstanceUid>\n    <TaskDescription>Second unblinded read</TaskDescription>\n  </ResponseHeader>\n";
}

}  // namespace

std::string SynthLidcXml(const LidcSeries& series, std::uint64_t seed, LidcExpected& expected) {
  Random rng(SeedOf(seed, series.series_uid));
  const int sessions = rng.Uniform(1, 4);
  const int slices = static_cast<int>(series.slices.size());
  // Physical nodules on a 3x3 grid of 512x512 cells (never two in one cell: clusters stay apart).
  std::vector<Nodule> nodules;
  std::array<int, 9> cells{0, 1, 2, 3, 4, 5, 6, 7, 8};
  for (int i = 8; i > 0; --i) std::swap(cells[static_cast<std::size_t>(i)], cells[rng.Next() % static_cast<std::uint64_t>(i + 1)]);
  const int count = slices >= 12 ? rng.Uniform(0, 4) : 0;
  for (int n = 0; n < count; ++n) {
    Nodule nodule;
    const int cell = cells[static_cast<std::size_t>(n)];
    nodule.cx = 100 + (cell % 3) * 150 + rng.Uniform(-20, 20);
    nodule.cy = 100 + (cell / 3) * 150 + rng.Uniform(-20, 20);
    const double diameter_mm = 4 + static_cast<double>(rng.Uniform(0, 260)) / 10;  // 4-30 mm
    nodule.radius = diameter_mm / 2 / series.pixel_spacing;
    nodule.half_slices = std::min(3, std::max(1, rng.Uniform(1, 3)));
    nodule.slice = rng.Uniform(nodule.half_slices, slices - 1 - nodule.half_slices);
    bool any = false;
    for (int s = 0; s < sessions; ++s) {
      nodule.readers[static_cast<std::size_t>(s)] = rng.Uniform(0, 3) != 0;
      any = any || nodule.readers[static_cast<std::size_t>(s)];
    }
    if (!any) nodule.readers[0] = true;
    nodules.push_back(nodule);
  }
  std::string xml = Header(series);
  for (int s = 0; s < sessions; ++s) {
    xml += "  <readingSession>\n    <annotationVersion>3.12</annotationVersion>\n    <servicingRadiologistID>" +
           std::to_string(540461000 + s * 17 + static_cast<int>(rng.Next() % 9)) + "</servicingRadiologistID>\n";
    int mark = 0;
    for (const Nodule& nodule : nodules) {
      if (!nodule.readers[static_cast<std::size_t>(s)]) continue;
      xml += "    <unblindedReadNodule>\n      <noduleID>Nodule " + std::to_string(++mark) +
             "</noduleID>\n      <characteristics>\n";
      const std::array<std::pair<const char*, int>, 9> ratings{{{"subtlety", rng.Uniform(1, 5)},
                                                               {"internalStructure", rng.Uniform(0, 9) == 0 ? 2 : 1},
                                                               {"calcification", rng.Uniform(0, 4) == 0 ? 3 : 6},
                                                               {"sphericity", rng.Uniform(1, 5)},
                                                               {"margin", rng.Uniform(1, 5)},
                                                               {"lobulation", rng.Uniform(1, 5)},
                                                               {"spiculation", rng.Uniform(1, 5)},
                                                               {"texture", rng.Uniform(1, 5)},
                                                               {"malignancy", rng.Uniform(1, 5)}}};
      for (const auto& [name, value] : ratings) {
        xml += std::string("        <") + name + ">" + std::to_string(value) + "</" + name + ">\n";
      }
      xml += "      </characteristics>\n";
      // Each reader draws the outline a little differently (radius within a pixel).
      const double jitter = static_cast<double>(rng.Uniform(-10, 10)) / 10;
      for (int k = nodule.slice - nodule.half_slices; k <= nodule.slice + nodule.half_slices; ++k) {
        const double t = static_cast<double>(k - nodule.slice) / (nodule.half_slices + 1);
        const double r = std::max(1.5, (nodule.radius + jitter) * std::sqrt(1 - t * t));
        Outline(xml, series.slices[static_cast<std::size_t>(k)], nodule.cx, nodule.cy, r);
      }
      xml += "    </unblindedReadNodule>\n";
      ++expected.annotations;
    }
    // Small nodules (< 3 mm: a single point, no characteristics) and non-nodules, away from the nodules' cells.
    const int small = rng.Uniform(0, 2);
    for (int i = 0; i < small && slices > 0; ++i) {
      xml += "    <unblindedReadNodule>\n      <noduleID>Small " + std::to_string(i + 1) + "</noduleID>\n";
      Point(xml, "roi", series.slices[static_cast<std::size_t>(rng.Uniform(0, slices - 1))], rng.Uniform(20, 40),
            rng.Uniform(470, 490));
      xml += "    </unblindedReadNodule>\n";
      ++expected.small_nodules;
    }
    const int non_nodules = rng.Uniform(0, 3);
    for (int i = 0; i < non_nodules && slices > 0; ++i) {
      xml += "    <nonNodule>\n      <nonNoduleID>" + std::to_string(i + 1) + "</nonNoduleID>\n";
      const SynthSlice& slice = series.slices[static_cast<std::size_t>(rng.Uniform(0, slices - 1))];
      xml += "      <imageZposition>" + Fixed(slice.z) + "</imageZposition>\n      <imageSOP_UID>" +
             slice.sop_instance_uid + "</imageSOP_UID>\n      <locus><xCoord>" + std::to_string(rng.Uniform(470, 490)) +
             "</xCoord><yCoord>" + std::to_string(rng.Uniform(20, 40)) + "</yCoord></locus>\n    </nonNodule>\n";
      ++expected.non_nodules;
    }
    xml += "  </readingSession>\n";
  }
  xml += "</LidcReadMessage>\n";
  ++expected.files;
  expected.sessions += sessions;
  expected.nodules += static_cast<int>(nodules.size());
  if (!nodules.empty()) ++expected.series_with_nodules;
  return xml;
}

std::string MalformedLidcXml(const LidcSeries& series, std::uint64_t seed, LidcExpected& expected) {
  LidcExpected ignored;
  std::string xml = SynthLidcXml(series, seed ^ 0x5EED, ignored);
  const std::size_t cut = xml.find("<readingSession>");
  ++expected.malformed;
  return xml.substr(0, cut == std::string::npos ? xml.size() / 2 : cut + 40);
}

}  // namespace meta_db::synth
