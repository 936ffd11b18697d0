// Series geometry and QC facets from instance headers; every result is independent of the instances' order.
#include "catalog/series_qc.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <string>

namespace meta_db::catalog {

namespace {

namespace json = boost::json;

// Tolerances (docs/qc.md). Positions closer than this along the normal are one position.
constexpr double kDuplicateMm = 0.01;
// A step is regular when within max(kStepAbsMm, kStepRel × median) of the median spacing: DS values are often
// written with 2-3 decimals, so 0.625 mm spacing shows steps of 0.62/0.63.
constexpr double kStepAbsMm = 0.02;
constexpr double kStepRel = 0.05;
// Orientations and pixel spacings are one value when equal after rounding to this many units.
constexpr double kCosineUnit = 1e-4;
constexpr double kSpacingUnit = 1e-4;  // mm
// Stored doubles are rounded to a micrometre (k / 1e6: the double nearest that decimal, as a parsed DS value is).
constexpr double kStoredPerMm = 1e6;

std::optional<double> Number(const json::value& value) {
  if (value.is_number()) {
    const double number = value.to_number<double>();
    return std::isfinite(number) ? std::optional<double>(number) : std::nullopt;
  }
  if (value.is_string()) {  // a document created through the API may carry DS values as text
    std::string_view text = value.as_string();
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    double number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty() && std::isfinite(number)) return number;
  }
  return std::nullopt;
}

// A multi-valued DS as N numbers: a JSON array, or DICOM's backslash-separated text.
template <std::size_t N>
std::optional<std::array<double, N>> Numbers(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  std::vector<json::value> items;
  if (value->is_array()) {
    items.assign(value->as_array().begin(), value->as_array().end());
  } else if (value->is_string()) {
    std::string_view text = value->as_string();
    for (std::size_t start = 0; start <= text.size();) {
      const std::size_t end = std::min(text.find('\\', start), text.size());
      items.emplace_back(text.substr(start, end - start));
      start = end + 1;
    }
  }
  if (items.size() != N) return std::nullopt;
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    const auto number = Number(items[i]);
    if (!number) return std::nullopt;
    out[i] = *number;
  }
  return out;
}

const json::value* MetadataValue(const json::object& doc, std::string_view keyword) {
  const auto* metadata = doc.if_contains("metadata");
  return metadata != nullptr && metadata->is_object() ? metadata->as_object().if_contains(keyword) : nullptr;
}

double Stored(double value) { return std::round(value * kStoredPerMm) / kStoredPerMm; }

template <std::size_t N>
std::array<long long, N> Key(const std::array<double, N>& values, double unit) {
  std::array<long long, N> key{};
  for (std::size_t i = 0; i < N; ++i) key[i] = std::llround(values[i] / unit);
  return key;
}

// The most common value (equal after rounding to `unit`), ties to the smallest; and how many distinct values.
template <std::size_t N>
std::pair<std::optional<std::array<double, N>>, std::size_t> Mode(const std::vector<std::array<double, N>>& values,
                                                                   double unit) {
  std::map<std::array<long long, N>, std::pair<std::size_t, std::array<double, N>>> groups;
  for (const auto& value : values) {
    auto [it, inserted] = groups.try_emplace(Key(value, unit), 0, value);
    ++it->second.first;
    it->second.second = std::min(it->second.second, value);
  }
  std::optional<std::array<double, N>> mode;
  std::size_t best = 0;
  for (const auto& [key, group] : groups) {
    if (group.first > best) {
      best = group.first;
      mode = group.second;
    }
  }
  return {mode, groups.size()};
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::string Upper(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c != ' ') out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// The digits right after `prefix_length` letters, if the rest of the name is digits then letters/digits.
std::optional<int> KernelNumber(const std::string& name, std::size_t prefix_length) {
  if (name.size() < prefix_length + 2) return std::nullopt;
  for (std::size_t i = 0; i < prefix_length; ++i) {
    if (!std::isalpha(static_cast<unsigned char>(name[i]))) return std::nullopt;
  }
  int number = 0;
  const char* begin = name.data() + prefix_length;
  if (!std::isdigit(static_cast<unsigned char>(*begin))) return std::nullopt;
  const auto [end, ec] = std::from_chars(begin, name.data() + name.size(), number);
  if (ec != std::errc() || end - begin != 2) return std::nullopt;
  for (const char* c = end; c != name.data() + name.size(); ++c) {
    if (!std::isalnum(static_cast<unsigned char>(*c))) return std::nullopt;
  }
  return number;
}

}  // namespace

SliceGeometry GeometryOf(const json::object& instance) {
  SliceGeometry geometry;
  geometry.position = Numbers<3>(MetadataValue(instance, "ImagePositionPatient"));
  geometry.orientation = Numbers<6>(MetadataValue(instance, "ImageOrientationPatient"));
  geometry.pixel_spacing = Numbers<2>(MetadataValue(instance, "PixelSpacing"));
  if (const auto* number = instance.if_contains("instance_number"); number != nullptr) {
    if (number->is_int64()) {
      geometry.instance_number = number->as_int64();
    } else if (const auto value = Number(*number); value && std::floor(*value) == *value && std::fabs(*value) < 1e15) {
      geometry.instance_number = static_cast<std::int64_t>(*value);
    }
  }
  return geometry;
}

std::string_view KernelClass(std::string_view kernel) {
  const std::string name = Upper(kernel);
  if (name.empty()) return "unknown";
  // GE: named kernels, smooth to sharp SOFT < STANDARD < DETAIL < CHEST < LUNG < BONE < BONEPLUS < EDGE.
  static const std::map<std::string, std::string_view, std::less<>> kNamed = {
      {"SOFT", "soft"},      {"SMOOTH", "soft"},    {"STANDARD", "standard"}, {"STND", "standard"},
      {"DETAIL", "standard"}, {"CHEST", "sharp"},   {"LUNG", "sharp"},        {"BONE", "sharp"},
      {"BONEPLUS", "sharp"}, {"EDGE", "sharp"},     {"SHARP", "sharp"},       {"ULTRA", "sharp"},
      // Philips: single letters, A smooth, B standard, C/D sharp, E/L (lung) sharper still.
      {"A", "soft"},         {"B", "standard"},     {"C", "sharp"},           {"D", "sharp"},
      {"E", "sharp"},        {"L", "sharp"},
  };
  if (const auto found = kNamed.find(name); found != kNamed.end()) return found->second;
  // Toshiba / Canon: FCnn; FC01-FC29 body and head kernels, FC30 and up bone, lung and high-resolution.
  if (name.starts_with("FC")) {
    if (const auto number = KernelNumber(name, 2)) return *number >= 30 ? "sharp" : "standard";
    return "unknown";
  }
  // Siemens: a letter or two (B body, H head, I/Q iterative, Br/Bl/Hr ...) then the sharpness number: below 30
  // smooth, 30-49 medium (B30f, B45f), 50 and up sharp (B60f, B70f lung, B80f bone).
  for (std::size_t letters : {std::size_t{1}, std::size_t{2}}) {
    if (const auto number = KernelNumber(name, letters)) {
      return *number < 30 ? "soft" : *number < 50 ? "standard" : "sharp";
    }
  }
  return "unknown";
}

json::object SeriesQc(const std::vector<SliceGeometry>& slices, const json::object& series) {
  const auto series_orientation = Numbers<6>(MetadataValue(series, "ImageOrientationPatient"));
  const auto series_spacing = Numbers<2>(MetadataValue(series, "PixelSpacing"));
  std::vector<std::array<double, 6>> orientations;
  std::vector<std::array<double, 2>> spacings;
  std::vector<std::array<double, 3>> positions;
  std::set<std::int64_t> numbers;
  bool complete = !slices.empty();
  for (const SliceGeometry& slice : slices) {
    const auto orientation = slice.orientation ? slice.orientation : series_orientation;
    if (slice.position && orientation) {
      positions.push_back(*slice.position);
      orientations.push_back(*orientation);
    } else {
      complete = false;
    }
    if (const auto spacing = slice.pixel_spacing ? slice.pixel_spacing : series_spacing) spacings.push_back(*spacing);
    if (slice.instance_number) numbers.insert(*slice.instance_number);
  }
  json::object qc;
  qc["slices"] = static_cast<std::int64_t>(slices.size());

  // Positions projected on the normal of the most common orientation (row × column cosines, PS3.3 C.7.6.2.1.1).
  const auto [orientation, orientation_groups] = Mode(orientations, kCosineUnit);
  std::int64_t duplicates = 0, gaps = 0;
  bool regular = false, irregular = false;
  if (orientation) {
    const auto& o = *orientation;
    std::array<double, 3> normal = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
    const double length = std::sqrt(normal[0] * normal[0] + normal[1] * normal[1] + normal[2] * normal[2]);
    if (length > 1e-6) {
      for (double& c : normal) c /= length;
      std::vector<double> z;
      for (const auto& p : positions) z.push_back(p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]);
      std::sort(z.begin(), z.end());
      std::vector<double> steps;
      for (std::size_t i = 1; i < z.size(); ++i) {
        const double step = z[i] - z[i - 1];
        if (step < kDuplicateMm) {
          ++duplicates;
        } else {
          steps.push_back(step);
        }
      }
      if (!steps.empty()) {
        const double median = Median(steps);
        const double tolerance = std::max(kStepAbsMm, kStepRel * median);
        for (double step : steps) {
          if (std::fabs(step - median) <= tolerance) continue;
          const double k = std::round(step / median);
          if (k >= 2 && std::fabs(step - k * median) <= tolerance) {
            gaps += static_cast<std::int64_t>(k) - 1;
          } else {
            irregular = true;
          }
        }
        regular = !irregular && gaps == 0;
        qc["z_spacing"] = json::object{{"median", Stored(median)},
                                       {"min", Stored(*std::min_element(steps.begin(), steps.end()))},
                                       {"max", Stored(*std::max_element(steps.begin(), steps.end()))}};
      }
    } else {
      complete = false;  // degenerate cosines: no normal to measure along
    }
  }
  qc["regular_spacing"] = regular;
  qc["gaps"] = gaps;
  qc["duplicate_positions"] = duplicates;
  const std::int64_t holes =
      numbers.empty() ? 0 : (*numbers.rbegin() - *numbers.begin() + 1) - static_cast<std::int64_t>(numbers.size());
  qc["instance_number_holes"] = holes;
  qc["mixed_orientation"] = orientation_groups > 1;
  const auto [spacing, spacing_groups] = Mode(spacings, kSpacingUnit);
  qc["mixed_pixel_spacing"] = spacing_groups > 1;
  if (spacing) qc["pixel_spacing"] = json::array{Stored((*spacing)[0]), Stored((*spacing)[1])};
  std::string_view kernel;
  if (const auto* value = MetadataValue(series, "ConvolutionKernel"); value != nullptr) {
    if (value->is_string()) {
      kernel = value->as_string();
    } else if (value->is_array() && !value->as_array().empty() && value->as_array().front().is_string()) {
      kernel = value->as_array().front().as_string();  // multi-valued (Siemens "I31f\3"): the kernel comes first
    }
  }
  qc["kernel_class"] = KernelClass(kernel);
  json::array flags;
  if (gaps > 0) flags.emplace_back("missing_slices");
  if (duplicates > 0) flags.emplace_back("duplicate_positions");
  if (holes > 0) flags.emplace_back("instance_number_holes");
  if (orientation_groups > 1) flags.emplace_back("mixed_orientation");
  if (spacing_groups > 1) flags.emplace_back("mixed_pixel_spacing");
  if (irregular) flags.emplace_back("irregular_spacing");
  if (!complete) flags.emplace_back("no_geometry");
  qc["flags"] = std::move(flags);
  return qc;
}

}  // namespace meta_db::catalog
