// Helpers for ingest tests: running synth/ingest/stats and checking the catalogue's invariants.
#pragma once

#include "store/store.hpp"
#include "test_support.hpp"

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace meta_db::testing {

// `meta_db synth --small` into dir; returns the manifest.
boost::json::object Synthesize(const std::filesystem::path& dir, int patients, int seed = 7);
// `meta_db ingest`; fails the test on a non-zero exit; returns the JSON summary printed on stdout.
boost::json::object Ingest(const std::filesystem::path& archive, const std::string& db,
                           const std::vector<std::string>& extra = {});
boost::json::object Stats(const std::string& db);

// Every invariant of the hierarchy: series.instances[]/num_instances equal the stored children,
// studies.series[] equals the stored series, no dangling parent ids. Adds gtest failures.
void ExpectInvariants(Store& store);

// Every document serialised (optionally without created_at/updated_at), for "nothing changed" comparisons.
std::vector<std::string> Fingerprint(Store& store, bool with_timestamps = true);

}  // namespace meta_db::testing
