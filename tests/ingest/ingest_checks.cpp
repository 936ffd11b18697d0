// Ingest test helpers over the real binary and a real store of the back-end under test.
#include "ingest_checks.hpp"

#include "catalog/catalog.hpp"
#include "common/json_io.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace meta_db::testing {

namespace json = boost::json;

boost::json::object Synthesize(const std::filesystem::path& dir, int patients, int seed) {
  const auto result = RunCommand({MetaDbBinary(), "synth", "--patients", std::to_string(patients), "--out",
                                  dir.string(), "--small", "--seed", std::to_string(seed)});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return ParseJsonObject(ReadFile(dir / "manifest.json"));
}

boost::json::object Ingest(const std::filesystem::path& archive, const std::string& db,
                           const std::vector<std::string>& extra) {
  std::vector<std::string> argv{MetaDbBinary(), "ingest", archive.string(), "--db", db, "--quiet"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const auto result = RunCommand(argv);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return result.exit_code == 0 ? ParseJsonObject(result.out) : json::object{};
}

boost::json::object Stats(const std::string& db) {
  const auto result = RunCommand({MetaDbBinary(), "stats", "--db", db});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return ParseJsonObject(result.out);
}

namespace {

std::vector<Document> All(Session& session, Kind kind) {
  query::Query everything;
  everything.limit = 1 << 30;
  return session.Find(kind, everything).results;
}

}  // namespace

void ExpectInvariants(Store& store) {
  store.Read([&](Session& session) {
    for (const Document& series : All(session, Kind::kSeries)) {
      const ObjectId id = *ObjectId::Parse(series.at("_id").as_string());
      json::array expected;
      for (const ObjectId& child : session.ChildIds(Kind::kInstances, id)) expected.emplace_back(child.ToHex());
      EXPECT_EQ(series.at("instances").as_array(), expected) << series.at("series_instance_uid");
      EXPECT_EQ(series.at("num_instances").to_number<std::int64_t>(), static_cast<std::int64_t>(expected.size()));
      EXPECT_TRUE(session.Get(Kind::kStudies, *ObjectId::Parse(series.at("study_id").as_string())))
          << "dangling study_id";
    }
    for (const Document& study : All(session, Kind::kStudies)) {
      json::array expected;
      for (const Document& series : session.Children(Kind::kSeries, *ObjectId::Parse(study.at("_id").as_string()))) {
        expected.emplace_back(catalog::SeriesSummary(series));
      }
      EXPECT_EQ(study.at("series").as_array(), expected) << study.at("study_instance_uid");
    }
    for (const Document& instance : All(session, Kind::kInstances)) {
      EXPECT_TRUE(session.Get(Kind::kSeries, *ObjectId::Parse(instance.at("series_id").as_string())))
          << "dangling series_id";
    }
  });
}

std::vector<std::string> Fingerprint(Store& store, bool with_timestamps) {
  std::vector<std::string> out;
  store.Read([&](Session& session) {
    for (Kind kind : kAllKinds) {
      for (Document doc : All(session, kind)) {
        if (!with_timestamps) {
          doc.erase("created_at");
          doc.erase("updated_at");
        }
        out.push_back(std::string(CollectionName(kind)) + " " + json::serialize(doc));
      }
    }
  });
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meta_db::testing
