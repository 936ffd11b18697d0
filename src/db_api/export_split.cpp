// Stratified, patient-level split assignment (export_split.hpp).
#include "db_api/export_split.hpp"

#include "common/stable_hash.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace meta_db::db_api {

namespace {

std::string StratumOf(const PatientStrata& strata) {
  std::string best;
  std::int64_t best_count = 0;
  for (const auto& [value, count] : strata.values) {  // ascending values: the first of equal counts is the smallest
    if (count > best_count) {
      best = value;
      best_count = count;
    }
  }
  return best;
}

}  // namespace

std::map<std::string, std::string> AssignSplits(const SplitSpec& spec,
                                                const std::map<std::string, PatientStrata>& patients) {
  std::map<std::string, std::vector<std::string>> strata;  // ordered by name, patients by id: reproducible
  for (const auto& [patient, values] : patients) strata[StratumOf(values)].push_back(patient);
  const std::size_t parts = spec.parts.size();
  const double total_weight = std::accumulate(spec.parts.begin(), spec.parts.end(), 0.0,
                                              [](double sum, const SplitPart& part) { return sum + part.weight; });
  std::vector<double> target_so_far(parts, 0.0);
  std::vector<std::int64_t> assigned_so_far(parts, 0);
  std::map<std::string, std::string> assignment;
  for (auto& [stratum, members] : strata) {
    SplitMix64 rng(spec.seed ^ StableHash(stratum));
    for (std::size_t i = members.size(); i > 1; --i) {  // Fisher-Yates
      std::swap(members[i - 1], members[rng.Below(i)]);
    }
    const auto n = static_cast<double>(members.size());
    std::vector<std::int64_t> counts(parts);
    std::vector<double> exact(parts);
    std::int64_t given = 0;
    for (std::size_t k = 0; k < parts; ++k) {
      exact[k] = n * spec.parts[k].weight / total_weight;
      counts[k] = static_cast<std::int64_t>(exact[k]);
      given += counts[k];
    }
    // The remaining patients go to the parts furthest behind: this stratum's fraction plus the earlier deficit.
    std::vector<std::size_t> order(parts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      const double behind_a = target_so_far[a] + exact[a] - static_cast<double>(assigned_so_far[a] + counts[a]);
      const double behind_b = target_so_far[b] + exact[b] - static_cast<double>(assigned_so_far[b] + counts[b]);
      return behind_a > behind_b;
    });
    for (std::size_t i = 0; given < static_cast<std::int64_t>(members.size()); ++i, ++given) ++counts[order[i % parts]];
    std::size_t next = 0;
    for (std::size_t k = 0; k < parts; ++k) {
      for (std::int64_t c = 0; c < counts[k]; ++c) assignment[members[next++]] = spec.parts[k].name;
      target_so_far[k] += exact[k];
      assigned_so_far[k] += counts[k];
    }
  }
  return assignment;
}

}  // namespace meta_db::db_api
