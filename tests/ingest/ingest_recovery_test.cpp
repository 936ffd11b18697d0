// Crash safety on the back-end under test: ingest killed with SIGKILL at several moments, then resumed, loses and
// doubles nothing.
#include "ingest_checks.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace meta_db::testing {
namespace {

namespace fs = std::filesystem;

TEST(IngestRecoveryTest, KillNineAtAnyMomentThenResumeFinishesTheJob) {
  META_DB_REQUIRE_TEST_BACKEND();
  TempDir dir;
  // A MongoDB server (FerretDB in scripts/test.sh) answers far slower than a SQLite file: the MongoDB variant crashes a
  // smaller archive (3 patients, 522 files, instead of 5 patients, 999 files) at the same kill points, so the suite
  // stays within its time budget (~45 s instead of ~2 min on FerretDB).
  const int patients = TestingSqlite() ? 5 : 3;
  const boost::json::object manifest = Synthesize(dir / "archive", patients, 11);
  TestDatabase reference_db("reference");
  const std::string reference = reference_db.uri();
  const auto started = std::chrono::steady_clock::now();
  Ingest(dir / "archive", reference, {"--batch", "25"});
  const auto full_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  auto expected_store = OpenStore(reference);
  const auto expected = Fingerprint(*expected_store, false);

  // Kill points spread from start-up to near the end of a full run; small batches make many commit boundaries.
  for (int percent : {2, 10, 25, 45, 65, 85, 97}) {
    const int delay_ms = static_cast<int>(full_ms * percent / 100);
    SCOPED_TRACE("killed after " + std::to_string(delay_ms) + " ms");
    TestDatabase killed_db("killed-" + std::to_string(delay_ms));
    const std::string db = killed_db.uri();
    const std::vector<std::string> argv{MetaDbBinary(), "ingest", (dir / "archive").string(), "--db", db,
                                        "--batch",      "25",    "--quiet"};
    RunAndKill(argv, delay_ms);
    RunAndKill(argv, delay_ms / 2 + 10);  // a second crash on top of the first
    Ingest(dir / "archive", db);
    auto store = OpenStore(db);
    ExpectInvariants(*store);
    EXPECT_EQ(Fingerprint(*store, false), expected);
    store->Read([&](Session& session) {
      EXPECT_EQ(session.Counts().instances, manifest.at("instances").to_number<std::int64_t>());
    });
    store.reset();  // before its database is dropped
  }
}

}  // namespace
}  // namespace meta_db::testing
