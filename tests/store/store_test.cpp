// The store interface on the back-end under test (META_DB_TEST_BACKEND: a real SQLite file, or a real MongoDB server):
// CRUD, unique keys, children order, file records, directory digests, error register, reopening, read-only and
// unavailable stores. File-level checks (schema upgrades, the log on close, a locked file) are SQLite-only.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <map>

#include <sqlite3.h>

#include <filesystem>

namespace meta_db {
namespace {

using testing::TempDir;
using testing::TestDatabase;

Document Doc(Document doc) {
  if (!doc.contains("_id")) doc["_id"] = ObjectId::Generate().ToHex();
  return doc;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<TestDatabase>();
    store_ = OpenStore(db_->uri());
  }
  void TearDown() override {
    store_.reset();  // closed before its database goes
    db_.reset();
  }
  TempDir dir_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, InsertGetReplaceRemove) {
  Document study = Doc({{"study_instance_uid", "1.2.3"}, {"patient_id", "P1"}});
  const ObjectId id = *ObjectId::Parse(study.at("_id").as_string());
  store_->Write([&](Session& s) { s.Insert(Kind::kStudies, study); });
  store_->Read([&](Session& s) {
    auto got = s.Get(Kind::kStudies, id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->at("patient_id"), "P1");
    EXPECT_EQ(s.GetByKey(Kind::kStudies, "1.2.3")->at("_id"), study.at("_id"));
    EXPECT_FALSE(s.GetByKey(Kind::kStudies, "9.9"));
  });
  study["patient_id"] = "P2";
  store_->Write([&](Session& s) { s.Replace(Kind::kStudies, study); });
  store_->Read([&](Session& s) { EXPECT_EQ(s.Get(Kind::kStudies, id)->at("patient_id"), "P2"); });
  store_->Write([&](Session& s) {
    EXPECT_TRUE(s.Remove(Kind::kStudies, id));
    EXPECT_FALSE(s.Remove(Kind::kStudies, id));
  });
  store_->Read([&](Session& s) { EXPECT_FALSE(s.Get(Kind::kStudies, id)); });
}

TEST_F(StoreTest, UniqueKeyConflictNamesTheField) {
  store_->Write([&](Session& s) { s.Insert(Kind::kStudies, Doc({{"study_instance_uid", "1.2.3"}})); });
  try {
    store_->Write([&](Session& s) { s.Insert(Kind::kStudies, Doc({{"study_instance_uid", "1.2.3"}})); });
    FAIL() << "expected a conflict";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kConflict);
    EXPECT_NE(std::string(error.what()).find("study_instance_uid"), std::string::npos);
  }
  store_->Read([&](Session& s) { EXPECT_EQ(s.Counts().studies, 1); });
}

// store.hpp: kNotFound — or, on a server back-end (which checks no existence before writing), the document written
// anew. Either way nothing else happens.
TEST_F(StoreTest, ReplaceOfMissingDocumentIsNotFound) {
  const Document series = Doc({{"series_instance_uid", "1"}});
  try {
    store_->Write([&](Session& s) { s.Replace(Kind::kSeries, series); });
    EXPECT_NE(store_->Backend(), "sqlite") << "SQLite must say kNotFound";
    store_->Read([&](Session& s) {
      const auto stored = s.Get(Kind::kSeries, *ObjectId::Parse(series.at("_id").as_string()));
      ASSERT_TRUE(stored) << "a Replace that did not fail must have written the document";
      EXPECT_EQ(stored->at("series_instance_uid"), "1");
      EXPECT_EQ(s.Count(Kind::kSeries), 1);
    });
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kNotFound);
    store_->Read([&](Session& s) { EXPECT_EQ(s.Count(Kind::kSeries), 0); });
  }
}

TEST_F(StoreTest, FailedWriteRollsBackEverything) {
  EXPECT_THROW(store_->Write([&](Session& s) {
    s.Insert(Kind::kResearchers, Doc({{"researcher_id", "r1"}}));
    throw Error(Errc::kUnprocessable, "abort");
  }),
               Error);
  store_->Read([&](Session& s) { EXPECT_EQ(s.Counts().researchers, 0); });
}

TEST_F(StoreTest, ChildrenAreOrderedByInstanceNumber) {
  const std::string series = ObjectId::Generate().ToHex();
  store_->Write([&](Session& s) {
    for (int number : {3, 1, 2}) {
      s.Insert(Kind::kInstances, Doc({{"sop_instance_uid", "1.2." + std::to_string(number)},
                                      {"series_id", series},
                                      {"instance_number", number}}));
    }
    s.Insert(Kind::kInstances, Doc({{"sop_instance_uid", "other"}, {"series_id", ObjectId::Generate().ToHex()}}));
  });
  store_->Read([&](Session& s) {
    const auto children = s.Children(Kind::kInstances, *ObjectId::Parse(series));
    ASSERT_EQ(children.size(), 3u);
    EXPECT_EQ(children[0].at("instance_number"), 1);
    EXPECT_EQ(children[2].at("instance_number"), 3);
    EXPECT_EQ(s.CountChildren(Kind::kInstances, *ObjectId::Parse(series)), 3);
    const auto ids = s.ChildIds(Kind::kInstances, *ObjectId::Parse(series));
    ASSERT_EQ(ids.size(), 3u);
    EXPECT_EQ(ids[0].ToHex(), children[0].at("_id").as_string());
  });
}

TEST_F(StoreTest, FileRecordsSelectExactlyThePrefix) {
  store_->Write([&](Session& s) {
    s.PutFileRecord({.path = "/a/b/1.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "1"});
    s.PutFileRecord({.path = "/a/b/2.dcm", .size = 1, .mtime_ns = 2, .status = "skipped", .sop_instance_uid = ""});
    s.PutFileRecord({.path = "/a/bc/3.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "3"});
    s.PutFileRecord({.path = "/a/b/1.dcm", .size = 5, .mtime_ns = 6, .status = "ok", .sop_instance_uid = "1"});
  });
  store_->Read([&](Session& s) {
    const auto records = s.FileRecords("/a/b/");
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].path, "/a/b/1.dcm");  // in path order
    EXPECT_EQ(records[0].size, 5);
    EXPECT_EQ(records[1].status, "skipped");
    EXPECT_EQ(s.FileRecords("").size(), 3u);
    const auto one = s.GetFileRecord("/a/b/1.dcm");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(one->mtime_ns, 6);
    EXPECT_EQ(one->sop_instance_uid, "1");
    EXPECT_FALSE(s.GetFileRecord("/a/b/").has_value());
  });
}

// Runs one statement on the file directly, as another program (or an older meta_db) would.
void ExecOnFile(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

std::string QueryOnFile(const std::filesystem::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* statement = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK);
  std::string result;
  if (sqlite3_step(statement) == SQLITE_ROW) result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return result;
}

TEST(StoreUpgrade, Version3FileLosesTheFileRecordSopIndexAndKeepsItsRecords) {
  META_DB_SQLITE_ONLY("upgrades a SQLite file's schema version");
  TempDir dir;
  const auto file = dir / "v3.sqlite";
  OpenStore("sqlite:" + file.string())->Write([&](Session& s) {
    s.PutFileRecord({.path = "/a/1.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "1"});
  });
  // What a version-3 file held: the same tables plus an index on the file records' SOP UIDs.
  ExecOnFile(file, "CREATE INDEX ix_ingest_files_sop ON ingest_files(sop_instance_uid); "
                   "UPDATE meta_db_info SET value = '3' WHERE key = 'schema_version'");
  auto store = OpenStore("sqlite:" + file.string());
  store->Read([&](Session& s) {
    ASSERT_TRUE(s.GetFileRecord("/a/1.dcm").has_value());
    EXPECT_EQ(s.GetFileRecord("/a/1.dcm")->sop_instance_uid, "1");
  });
  EXPECT_EQ(QueryOnFile(file, "SELECT value FROM meta_db_info WHERE key = 'schema_version'"), "9");
  EXPECT_EQ(QueryOnFile(file, "SELECT count(*) FROM sqlite_master WHERE name = 'ix_ingest_files_sop'"), "0");
}

TEST(StoreUpgrade, Version4FileGetsARowWithoutDigestForEveryDirectoryOfItsRecords) {
  META_DB_SQLITE_ONLY("upgrades a SQLite file's schema version");
  TempDir dir;
  const auto file = dir / "v4.sqlite";
  OpenStore("sqlite:" + file.string())->Write([&](Session& s) {
    s.PutFileRecord({.path = "/a/1.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "1"});
    s.PutFileRecord({.path = "/a/2.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "2"});
    s.PutFileRecord({.path = "/a/b/3.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "3"});
    s.PutFileRecord({.path = "/c.dcm", .size = 1, .mtime_ns = 2, .status = "error", .sop_instance_uid = ""});
  });
  // What a version-4 file held: no directory table.
  ExecOnFile(file, "DROP TABLE ingest_dirs; UPDATE meta_db_info SET value = '4' WHERE key = 'schema_version'");
  std::vector<std::pair<std::string, std::optional<std::int64_t>>> rows;
  std::int64_t files = 0;
  OpenStore("sqlite:" + file.string())->Read([&](Session& s) {
    s.VisitDirectoryDigests("", [&](const DirectoryDigest& row) {
      rows.emplace_back(row.directory, row.digest);
      files += row.files;
    });
  });
  using Row = std::pair<std::string, std::optional<std::int64_t>>;
  EXPECT_EQ(rows, (std::vector<Row>{{"/", std::nullopt}, {"/a/", std::nullopt}, {"/a/b/", std::nullopt}}));
  EXPECT_EQ(files, 4) << "each row counts its directory's records";
  EXPECT_EQ(QueryOnFile(file, "SELECT value FROM meta_db_info WHERE key = 'schema_version'"), "9");
}

TEST(StoreUpgrade, Version8FileGetsTheQcFlagRowsOfItsSeries) {
  META_DB_SQLITE_ONLY("upgrades a SQLite file's schema version");
  TempDir dir;
  const auto file = dir / "v8.sqlite";
  const auto series = [](const char* uid, boost::json::array flags) {
    return Doc({{"series_instance_uid", uid}, {"qc", {{"flags", std::move(flags)}}}});
  };
  OpenStore("sqlite:" + file.string())->Write([&](Session& s) {
    s.Insert(Kind::kSeries, series("1", {"missing_slices", "instance_number_holes"}));
    s.Insert(Kind::kSeries, series("2", {}));
    s.Insert(Kind::kSeries, series("3", {"missing_slices"}));
  });
  // What a version-8 file held: no side table, no triggers, number indexes without their type column.
  ExecOnFile(file, "DROP TRIGGER series_qc_flags_insert; DROP TRIGGER series_qc_flags_update; "
                   "DROP TRIGGER series_qc_flags_delete; DROP TABLE series_qc_flags; "
                   "DROP INDEX ix_series_annotations_nodules; "
                   "CREATE INDEX ix_series_annotations_nodules ON series(annotations_nodules); "
                   "UPDATE meta_db_info SET value = '8' WHERE key = 'schema_version'");
  auto store = OpenStore("sqlite:" + file.string());
  const auto total = [&](const char* flag) {
    std::int64_t n = -1;
    store->Read([&](Session& s) {
      query::Query q;
      q.filter = query::ParseFilter(boost::json::object{{"qc.flags", flag}});
      n = s.Find(Kind::kSeries, q).total;
    });
    return n;
  };
  EXPECT_EQ(QueryOnFile(file, "SELECT value FROM meta_db_info WHERE key = 'schema_version'"), "9");
  EXPECT_EQ(QueryOnFile(file, "SELECT count(*) FROM series_qc_flags"), "3");
  EXPECT_EQ(QueryOnFile(file, "SELECT group_concat(name) FROM pragma_index_info('ix_series_annotations_nodules')"),
            "annotations_nodules,annotations_nodules_t");
  EXPECT_EQ(total("missing_slices"), 2);
  EXPECT_EQ(total("instance_number_holes"), 1);
  store->Write([&](Session& s) { s.Insert(Kind::kSeries, series("4", {"instance_number_holes"})); });
  EXPECT_EQ(total("instance_number_holes"), 2) << "the triggers keep the rows from then on";
}

TEST(StoreClose, TheDatabaseFileAloneHoldsEverythingOnceTheStoreIsClosed) {
  META_DB_SQLITE_ONLY("the SQLite file and its WAL on close");
  TempDir dir;
  const auto file = dir / "catalogue.sqlite";
  {
    auto store = OpenStore("sqlite:" + file.string());
    for (int batch = 0; batch < 3; ++batch) {
      store->Write([&](Session& s) {
        for (int i = 0; i < 200; ++i) {
          s.PutFileRecord({.path = "/a/" + std::to_string(batch) + "-" + std::to_string(i) + ".dcm", .size = i,
                           .mtime_ns = 1, .status = "ok", .sop_instance_uid = std::to_string(i)});
        }
      });
    }
  }
  // The log stays beside the file for the next process, emptied (a process's first connection reads all of it):
  // a copy of the file alone is the whole catalogue.
  ASSERT_TRUE(std::filesystem::exists(file.string() + "-wal"));
  EXPECT_EQ(std::filesystem::file_size(file.string() + "-wal"), 0u);
  std::filesystem::copy_file(file, dir / "copy.sqlite");
  EXPECT_EQ(QueryOnFile(dir / "copy.sqlite", "SELECT count(*) FROM ingest_files"), "600");
  EXPECT_EQ(QueryOnFile(dir / "copy.sqlite", "SELECT count(*) FROM ingest_dirs"), "1");
}

TEST_F(StoreTest, WritingAFileRecordClearsItsDirectoryDigestInTheSameTransaction) {
  store_->Write([&](Session& s) {
    s.PutFileRecord({.path = "/r/a/1.dcm", .size = 1, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "1"});
    s.PutFileRecord({.path = "/r/b/1.dcm", .size = 1, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "2"});
    s.PutFileRecord({.path = "/rx/1.dcm", .size = 1, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "3"});
  });
  const auto digests = [&](std::string_view prefix) {
    std::map<std::string, std::optional<std::int64_t>> out;
    store_->Read([&](Session& s) {
      s.VisitDirectoryDigests(prefix, [&](const DirectoryDigest& row) { out.emplace(row.directory, row.digest); });
    });
    return out;
  };
  using Digests = std::map<std::string, std::optional<std::int64_t>>;
  EXPECT_EQ(digests("/r/"), (Digests{{"/r/a/", std::nullopt}, {"/r/b/", std::nullopt}})) << "rows made by the writes";
  store_->Write([&](Session& s) {
    s.PutDirectoryDigest("/r/a/", 11, 1);
    s.PutDirectoryDigest("/r/b/", -22, 1);
  });
  EXPECT_EQ(digests("/r/"), (Digests{{"/r/a/", 11}, {"/r/b/", -22}}));
  // A failed write leaves the digest standing, as it leaves the record.
  EXPECT_THROW(store_->Write([&](Session& s) {
    s.PutFileRecord({.path = "/r/a/1.dcm", .size = 2, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "1"});
    throw Error(Errc::kInternal, "stop");
  }),
               Error);
  EXPECT_EQ(digests("/r/").at("/r/a/"), 11);
  store_->Write([&](Session& s) {
    s.PutFileRecord({.path = "/r/a/1.dcm", .size = 2, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "1"});
  });
  store_->Write([&](Session& s) { s.RemoveFileRecord("/r/b/1.dcm"); });
  EXPECT_EQ(digests("/r/"), (Digests{{"/r/a/", std::nullopt}, {"/r/b/", std::nullopt}}));
  store_->Write([&](Session& s) { s.RemoveDirectoryDigest("/r/b/"); });
  EXPECT_EQ(digests(""), (Digests{{"/r/a/", std::nullopt}, {"/rx/", std::nullopt}}));
}

TEST_F(StoreTest, ErrorRegisterKeepsOneEntryPerPath) {
  store_->Write([&](Session& s) {
    s.PutError("/x/1.dcm", "truncated", "2026-01-01T00:00:00.000Z");
    s.PutError("/x/1.dcm", "still truncated", "2026-01-02T00:00:00.000Z");
    s.PutError("/x/2.dcm", "garbage", "2026-01-02T00:00:00.000Z");
  });
  store_->Read([&](Session& s) {
    const auto errors = s.Errors(0, 10);
    ASSERT_EQ(errors.size(), 2u);
    EXPECT_EQ(errors[0].reason, "still truncated");
    EXPECT_EQ(errors[0].first_seen, "2026-01-01T00:00:00.000Z");
    EXPECT_EQ(errors[0].last_seen, "2026-01-02T00:00:00.000Z");
    EXPECT_EQ(s.Counts().errors, 2);
  });
  store_->Write([&](Session& s) { s.ClearError("/x/1.dcm"); });
  store_->Read([&](Session& s) { EXPECT_EQ(s.Counts().errors, 1); });
}

TokenRecord Token(const std::string& id, const std::string& researcher, const std::string& created_at) {
  TokenRecord token;
  token.token_id = id;
  token.researcher = researcher;
  token.label = "label of " + id;
  token.salt = std::string(64, 'a');
  token.hash = std::string(64, 'b');
  token.created_at = created_at;
  return token;
}

AuditRecord Audit(const std::string& at, const std::string& actor, const std::string& action, int status,
                  const std::string& path) {
  AuditRecord record;
  record.id = ObjectId::Generate().ToHex();
  record.at = at;
  record.actor = actor;
  record.researcher_id = actor == "researcher" ? "r1" : "";
  record.action = action;
  record.kind = path.substr(1, path.find('/', 1) == std::string::npos ? std::string::npos : path.find('/', 1) - 1);
  record.method = "POST";
  record.path = path;
  record.status = status;
  record.document_ids = {"0123456789abcdef01234567"};
  record.documents = 3;
  record.client = "127.0.0.1";
  record.detail = "why";
  return record;
}

TEST_F(StoreTest, TokensArePutListedAndRevokedOnce) {
  const std::string r1 = ObjectId::Generate().ToHex(), r2 = ObjectId::Generate().ToHex();
  const std::string t1 = ObjectId::Generate().ToHex(), t2 = ObjectId::Generate().ToHex();
  const std::string t3 = ObjectId::Generate().ToHex();
  store_->Write([&](Session& s) {
    s.PutToken(Token(t1, r1, "2026-01-01T00:00:00.000Z"));
    s.PutToken(Token(t2, r1, "2026-01-02T00:00:00.000Z"));
    s.PutToken(Token(t3, r2, "2026-01-03T00:00:00.000Z"));
  });
  EXPECT_THROW(store_->Write([&](Session& s) { s.PutToken(Token(t1, r2, "2026-01-04T00:00:00.000Z")); }), Error);
  store_->Read([&](Session& s) {
    const auto got = s.GetToken(t2);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->researcher, r1);
    EXPECT_EQ(got->label, "label of " + t2);
    EXPECT_EQ(got->hash, std::string(64, 'b'));
    EXPECT_EQ(got->revoked_at, "");
    EXPECT_FALSE(s.GetToken(ObjectId::Generate().ToHex()));
    const auto mine = s.Tokens(r1);
    ASSERT_EQ(mine.size(), 2u);
    EXPECT_EQ(mine[0].token_id, t1);
    EXPECT_EQ(s.Tokens("").size(), 3u);
  });
  store_->Write([&](Session& s) {
    EXPECT_TRUE(s.RevokeToken(t1, "2026-02-01T00:00:00.000Z"));
    EXPECT_TRUE(s.RevokeToken(t1, "2026-03-01T00:00:00.000Z"));  // already revoked: keeps the first time
    EXPECT_FALSE(s.RevokeToken(ObjectId::Generate().ToHex(), "2026-02-01T00:00:00.000Z"));
  });
  store_->Read([&](Session& s) {
    EXPECT_EQ(s.GetToken(t1)->revoked_at, "2026-02-01T00:00:00.000Z");
    EXPECT_EQ(s.GetToken(t2)->revoked_at, "");
  });
}

TEST_F(StoreTest, AuditRecordsFilterAndPageNewestFirst) {
  store_->Write([&](Session& s) {
    s.AppendAudit(Audit("2026-01-01T00:00:00.000Z", "admin", "write", 201, "/researchers"));
    s.AppendAudit(Audit("2026-01-02T00:00:00.000Z", "researcher", "denied", 403, "/researchers/x"));
    s.AppendAudit(Audit("2026-01-03T00:00:00.000Z", "researcher", "write", 201, "/collections"));
    s.AppendAudit(Audit("2026-01-04T00:00:00.000Z", "anonymous", "denied", 401, "/studies_%"));
  });
  store_->Read([&](Session& s) {
    const auto all = s.FindAudit({});
    EXPECT_EQ(all.total, 4);
    ASSERT_EQ(all.records.size(), 4u);
    EXPECT_EQ(all.records[0].at, "2026-01-04T00:00:00.000Z");
    EXPECT_EQ(all.records[0].document_ids, std::vector<std::string>{"0123456789abcdef01234567"});
    EXPECT_EQ(all.records[0].documents, 3);
    EXPECT_EQ(all.records[0].status, 401);
    EXPECT_EQ(all.records[0].client, "127.0.0.1");
    EXPECT_EQ(all.records[0].kind, "studies_%");
    AuditQuery by_kind;
    by_kind.kind = "researchers";
    EXPECT_EQ(s.FindAudit(by_kind).total, 2);
    AuditQuery q;
    q.actor = "researcher";
    EXPECT_EQ(s.FindAudit(q).total, 2);
    q.action = "write";
    EXPECT_EQ(s.FindAudit(q).total, 1);
    AuditQuery by_status;
    by_status.status = 403;
    EXPECT_EQ(s.FindAudit(by_status).records.at(0).path, "/researchers/x");
    AuditQuery prefix;
    prefix.path_prefix = "/researchers";
    EXPECT_EQ(s.FindAudit(prefix).total, 2);
    prefix.path_prefix = "/studies_%";  // LIKE's wildcards mean themselves
    EXPECT_EQ(s.FindAudit(prefix).total, 1);
    prefix.path_prefix = "/studies__";
    EXPECT_EQ(s.FindAudit(prefix).total, 0);
    AuditQuery range;
    range.since = "2026-01-02";
    range.until = "2026-01-04";
    EXPECT_EQ(s.FindAudit(range).total, 2);
    AuditQuery page;
    page.skip = 1;
    page.limit = 2;
    const auto second = s.FindAudit(page);
    EXPECT_EQ(second.total, 4);
    ASSERT_EQ(second.records.size(), 2u);
    EXPECT_EQ(second.records[0].at, "2026-01-03T00:00:00.000Z");
  });
}

TEST(StoreUpgrade, Version5FileGetsTheAccessTables) {
  META_DB_SQLITE_ONLY("upgrades a SQLite file's schema version");
  TempDir dir;
  const auto file = dir / "v5.sqlite";
  OpenStore("sqlite:" + file.string())->Write([&](Session& s) {
    s.PutFileRecord({.path = "/a/1.dcm", .size = 1, .mtime_ns = 2, .status = "ok", .sop_instance_uid = "1"});
  });
  ExecOnFile(file, "DROP TABLE api_tokens; DROP TABLE audit_log; "
                   "UPDATE meta_db_info SET value = '5' WHERE key = 'schema_version'");
  OpenStore("sqlite:" + file.string())->Write([&](Session& s) {
    s.AppendAudit(Audit("2026-01-01T00:00:00.000Z", "admin", "write", 201, "/x"));
  });
  EXPECT_EQ(QueryOnFile(file, "SELECT value FROM meta_db_info WHERE key = 'schema_version'"), "9");
  EXPECT_EQ(QueryOnFile(file, "SELECT count(*) FROM audit_log"), "1");
  EXPECT_EQ(QueryOnFile(file, "SELECT count(*) FROM ingest_files"), "1");
}

TEST_F(StoreTest, SchemaSurvivesReopen) {
  const Document doc = Doc({{"name", "LIDC-IDRI"}});
  store_->Write([&](Session& s) { s.Insert(Kind::kCollections, doc); });
  store_.reset();
  auto reopened = OpenStore(db_->uri());
  reopened->Read([&](Session& s) { EXPECT_TRUE(s.GetByKey(Kind::kCollections, "LIDC-IDRI")); });
}

TEST_F(StoreTest, LockedDatabaseIsUnavailableNotAHang) {
  META_DB_SQLITE_ONLY("another connection holds the SQLite file's exclusive lock");
  StoreOptions options;
  options.lock_wait_ms = 50;
  auto store = OpenStore("sqlite:" + (dir_ / "locked.sqlite").string(), options);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "locked.sqlite").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  try {
    store->Write([&](Session& s) { s.Insert(Kind::kResearchers, Doc({{"researcher_id", "r"}})); });
    FAIL() << "expected kUnavailable";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kUnavailable);
  }
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
}

// A file in a directory that does not exist (SQLite), a server nobody listens on (MongoDB).
TEST_F(StoreTest, UnopenableLocationIsUnavailable) {
  StoreOptions options;
  options.connect_timeout_ms = 500;
  const std::string uri = store_->Backend() == "sqlite" ? "sqlite:" + (dir_ / "no-such-dir" / "x.sqlite").string()
                                                        : std::string("mongodb://127.0.0.1:1/meta_db_nowhere");
  try {
    OpenStore(uri, options);
    FAIL() << uri;
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kUnavailable) << error.what();
  }
}

TEST_F(StoreTest, ReadOnlyFileIsUnavailableForWrites) {
  store_->Write([&](Session& s) { s.Insert(Kind::kResearchers, Doc({{"researcher_id", "r"}})); });
  store_.reset();
  StoreOptions options;
  options.read_only = true;
  auto store = OpenStore(db_->uri(), options);
  store->Read([&](Session& s) { EXPECT_EQ(s.Counts().researchers, 1); });
  EXPECT_THROW(store->Write([&](Session&) {}), Error);
}

}  // namespace
}  // namespace meta_db
