// ML splits of an export: whole patients assigned to named parts, stratified, reproducible for a seed.
// Thread-safety: pure functions.
#pragma once

#include "db_api/export.hpp"

#include "common/split_mix.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace meta_db::db_api {

using meta_db::SplitMix64;

// Counts the values one patient's rows had for the stratify field; its stratum is the most common one (ties: the
// smallest value), "" when no row had one.
struct PatientStrata {
  std::map<std::string, std::int64_t> values;
};

// patient_id -> part name. Per stratum (its patients sorted by id, then shuffled by SplitMix64 seeded from the seed
// and the stratum's name) each part gets floor(n * weight / total) patients, and the remaining few go to the parts
// furthest behind their target over the strata so far: every part is within one patient of its target in every
// stratum, and the totals stay within one patient per stratum of theirs.
std::map<std::string, std::string> AssignSplits(const SplitSpec& spec,
                                                const std::map<std::string, PatientStrata>& patients);

}  // namespace meta_db::db_api
