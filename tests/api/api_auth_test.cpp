// Access control end to end on the real `meta_db serve` (both stores): tokens, roles, ownership, public reads, the
// loopback rule, rate limit, CORS and the audit log, each against a server of its own on 127.0.0.1.
#include "http_client.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

#include "store/store.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>

namespace meta_db::api_test {

namespace {

namespace json = boost::json;

constexpr const char* kAdminToken = "admin-token-for-tests-0123456789";

std::string Bearer(const std::string& token) { return "Bearer " + token; }

std::string Id(const HttpResponse& response) { return std::string(response.Json().at("_id").as_string()); }

std::string Unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + std::to_string(::getpid()) + "x" + std::to_string(counter.fetch_add(1));
}

// A fresh database and a server on it, started with `args` and the admin token in its environment (unless
// `with_admin` is false).
class AuthServer {
 public:
  explicit AuthServer(std::vector<std::string> args = {}, bool with_admin = true) : db_("auth") {
    OpenStore(db_.uri());  // `serve` serves a catalogue, it does not create one (only ingest and migrate do)
    std::vector<std::string> env;
    if (with_admin) env.push_back(std::string("META_DB_ADMIN_TOKEN=") + kAdminToken);
    server_ = std::make_unique<ServerProcess>(dir_.path(), db_.uri(), args, env);
  }
  ~AuthServer() { EXPECT_EQ(server_->Stop(), 0) << server_->Log(); }

  HttpClient Client(const std::string& token = {}) {
    HttpClient client(server_->port());
    if (!token.empty()) client.SetHeader("Authorization", Bearer(token));
    return client;
  }
  HttpClient Admin() { return Client(kAdminToken); }
  const std::string& uri() const { return db_.uri(); }
  const testing::TestDatabase& db() const { return db_; }
  ServerProcess& server() { return *server_; }

 private:
  testing::TempDir dir_;
  testing::TestDatabase db_;
  std::unique_ptr<ServerProcess> server_;
};

struct Researcher {
  std::string id;             // _id
  std::string researcher_id;  // business id
  std::string token;
  std::string token_id;
};

Researcher MakeResearcher(AuthServer& server) {
  HttpClient admin = server.Admin();
  Researcher r;
  r.researcher_id = Unique("r");
  auto created = admin.Post("/researchers", json::object{{"researcher_id", r.researcher_id},
                                                          {"name", "Dr " + r.researcher_id},
                                                          {"email", r.researcher_id + "@example.org"}});
  EXPECT_EQ(created.status, 201) << created.body;
  r.id = Id(created);
  auto token = admin.Post("/researchers/" + r.id + "/tokens", json::object{{"label", "test"}});
  EXPECT_EQ(token.status, 201) << token.body;
  r.token = std::string(token.Json().at("token").as_string());
  r.token_id = std::string(token.Json().at("token_id").as_string());
  return r;
}

json::array AuditResults(AuthServer& server, const std::string& query) {
  auto response = server.Admin().Get("/audit" + query);
  EXPECT_EQ(response.status, 200) << response.body;
  return response.Json().at("results").as_array();
}

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override { META_DB_REQUIRE_TEST_BACKEND(); }
};

TEST_F(AuthTest, EveryApiRequestNeedsAToken) {
  AuthServer server;
  HttpClient anonymous = server.Client();
  for (const char* path : {"/studies", "/researchers", "/audit", "/auth/whoami", "/stats"}) {
    auto response = anonymous.Get(path);
    EXPECT_EQ(response.status, 401) << path << " " << response.body;
    EXPECT_EQ(response.Header("www-authenticate").rfind("Bearer", 0), 0u) << path;
  }
  EXPECT_EQ(anonymous.Post("/query", json::object{{"collection", "studies"}}).status, 401);
  EXPECT_EQ(anonymous.Post("/collections", json::object{{"name", "x"}}).status, 401);
  // Health, the API document and the dashboard's files stay public (a sign-in page must load).
  EXPECT_EQ(anonymous.Get("/health").status, 200);
  auto openapi = anonymous.Get("/openapi.json");
  ASSERT_EQ(openapi.status, 200);
  const auto doc = openapi.Json();
  EXPECT_EQ(doc.at("components").at("securitySchemes").at("bearerAuth").at("scheme"), "bearer");
  EXPECT_TRUE(doc.at("security").is_array());
  EXPECT_TRUE(doc.at("paths").at("/health").at("get").at("security").as_array().empty());
  EXPECT_TRUE(doc.at("paths").as_object().contains("/researchers/{id}/tokens"));
  EXPECT_TRUE(doc.at("paths").as_object().contains("/audit"));

  for (const std::string& bad : std::vector<std::string>{"Bearer wrong-token", "Bearer ", "Basic YWRtaW46YWRtaW4=",
                                "Bearer mdb_0123456789abcdef01234567_" + std::string(64, 'a'),
                                std::string("Bearer ") + kAdminToken + "x"}) {
    HttpClient client(server.server().port());
    client.SetHeader("Authorization", bad);
    EXPECT_EQ(client.Get("/studies").status, 401) << bad;
  }
  HttpClient admin = server.Admin();
  EXPECT_EQ(admin.Get("/studies").status, 200);
  auto whoami = admin.Get("/auth/whoami");
  ASSERT_EQ(whoami.status, 200);
  EXPECT_EQ(whoami.Json().at("role"), "admin");
}

TEST_F(AuthTest, TokenShownOnceStoredHashedAndRevocable) {
  AuthServer server;
  Researcher r = MakeResearcher(server);
  EXPECT_EQ(r.token.rfind("mdb_" + r.token_id + "_", 0), 0u);
  const std::string secret = r.token.substr(r.token.rfind('_') + 1);
  ASSERT_EQ(secret.size(), 64u);

  HttpClient admin = server.Admin();
  auto list = admin.Get("/researchers/" + r.id + "/tokens");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Header("cache-control"), "no-store");
  ASSERT_EQ(list.Json().at("total"), 1);
  const json::value list_json = list.Json();
  const auto& listed = list_json.at("results").at(0).as_object();
  EXPECT_EQ(listed.at("token_id"), json::value(r.token_id));
  EXPECT_FALSE(listed.contains("token"));
  EXPECT_FALSE(listed.contains("hash"));
  EXPECT_EQ(list.body.find(secret), std::string::npos);
  EXPECT_TRUE(listed.at("revoked_at").is_null());

  HttpClient researcher = server.Client(r.token);
  auto whoami = researcher.Get("/auth/whoami");
  ASSERT_EQ(whoami.status, 200) << whoami.body;
  EXPECT_EQ(whoami.Json().at("role"), "researcher");
  EXPECT_EQ(whoami.Json().at("researcher_id"), json::value(r.researcher_id));
  EXPECT_EQ(whoami.Json().at("token_id"), json::value(r.token_id));

  // The store holds a hash under a salt, never the secret (read back through the store, and from the file's bytes).
  auto store = OpenStore(server.uri());
  std::optional<TokenRecord> stored;
  store->Read([&](Session& session) { stored = session.GetToken(r.token_id); });
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->researcher, r.id);
  EXPECT_EQ(stored->salt.size(), 64u);
  EXPECT_EQ(stored->hash.size(), 64u);
  for (const std::string* field : {&stored->hash, &stored->salt, &stored->label, &stored->token_id}) {
    EXPECT_EQ(field->find(secret), std::string::npos);
  }
  if (testing::TestingSqlite()) {
    std::string bytes;
    for (const char* suffix : {"", "-wal"}) {
      const auto path = server.db().sqlite_file().string() + suffix;
      if (std::filesystem::exists(path)) bytes += testing::ReadFile(path);
    }
    EXPECT_NE(bytes.find(r.token_id), std::string::npos) << "the record itself is in the file";
    EXPECT_EQ(bytes.find(secret), std::string::npos);
  }

  // A second token of the same researcher differs; revoking the first stops it at once and only it.
  auto second = admin.Post("/researchers/" + r.id + "/tokens", json::object{});
  ASSERT_EQ(second.status, 201);
  const std::string token2(second.Json().at("token").as_string());
  EXPECT_NE(token2, r.token);
  EXPECT_EQ(researcher.Delete("/researchers/" + r.id + "/tokens/" + r.token_id).status, 403);
  EXPECT_EQ(admin.Delete("/researchers/" + r.id + "/tokens/" + r.token_id).status, 204);
  EXPECT_EQ(researcher.Get("/studies").status, 401);
  EXPECT_EQ(server.Client(token2).Get("/studies").status, 200);
  EXPECT_EQ(admin.Delete("/researchers/" + r.id + "/tokens/0123456789abcdef01234567").status, 404);
  auto after = admin.Get("/researchers/" + r.id + "/tokens");
  ASSERT_EQ(after.Json().at("total"), 2);
  EXPECT_TRUE(after.Json().at("results").at(0).at("revoked_at").is_string());

  // The token of a removed researcher stops working too.
  EXPECT_EQ(admin.Delete("/researchers/" + r.id).status, 204);
  EXPECT_EQ(server.Client(token2).Get("/studies").status, 401);
}

TEST_F(AuthTest, ResearchersChangeOnlyTheirOwnDocuments) {
  AuthServer server;
  Researcher a = MakeResearcher(server);
  Researcher b = MakeResearcher(server);
  HttpClient admin = server.Admin();
  HttpClient as_a = server.Client(a.token);
  HttpClient as_b = server.Client(b.token);

  // Admin-only: researchers, tokens, catalogue writes, the audit log.
  EXPECT_EQ(as_a.Post("/researchers", json::object{{"researcher_id", Unique("r")}, {"name", "x"},
                                                    {"email", "x@example.org"}}).status, 403);
  EXPECT_EQ(as_a.Delete("/researchers/" + b.id).status, 403);
  EXPECT_EQ(as_a.Post("/researchers/" + a.id + "/tokens", json::object{}).status, 403);
  EXPECT_EQ(as_a.Get("/researchers/" + a.id + "/tokens").status, 403);
  EXPECT_EQ(as_a.Get("/audit").status, 403);
  auto study = admin.Post("/studies", json::object{{"study_instance_uid", "1.2.3." + Unique("")}});
  ASSERT_EQ(study.status, 201) << study.body;
  const std::string study_id = Id(study);
  EXPECT_EQ(as_a.Post("/studies", json::object{{"study_instance_uid", "1.2.4." + Unique("")}}).status, 403);
  EXPECT_EQ(as_a.Patch("/studies/" + study_id, json::object{{"patient_id", "x"}}).status, 403);
  EXPECT_EQ(as_a.Delete("/studies/" + study_id).status, 403);
  EXPECT_EQ(as_a.Get("/studies/" + study_id).status, 200);  // reads are for everyone with a token

  // Collections: a researcher's own, whatever the body says; others' are out of reach.
  auto theirs = as_a.Post("/collections", json::object{{"name", Unique("c")}, {"owner_id", b.id}});
  EXPECT_EQ(theirs.status, 403) << theirs.body;
  auto mine = as_a.Post("/collections", json::object{{"name", Unique("c")}});
  ASSERT_EQ(mine.status, 201) << mine.body;
  EXPECT_EQ(mine.Json().at("owner_id"), json::value(a.id));
  const std::string collection = Id(mine);
  EXPECT_EQ(as_a.Patch("/collections/" + collection, json::object{{"description", "mine"}}).status, 200);
  EXPECT_EQ(as_a.Patch("/collections/" + collection, json::object{{"owner_id", b.id}}).status, 403);
  EXPECT_EQ(as_b.Patch("/collections/" + collection, json::object{{"description", "theirs"}}).status, 403);
  EXPECT_EQ(as_b.Post("/collections/" + collection + "/cases", json::object{{"case_id", "c1"}}).status, 403);
  EXPECT_EQ(as_b.Delete("/collections/" + collection).status, 403);
  EXPECT_EQ(as_a.Post("/collections/" + collection + "/cases", json::object{{"case_id", "c1"}}).status, 200);
  EXPECT_EQ(admin.Patch("/collections/" + collection, json::object{{"description", "admin"}}).status, 200);

  // Jobs: filed under the caller's own business id only.
  EXPECT_EQ(as_a.Post("/jobs", json::object{{"researcher_id", b.researcher_id}, {"name", "j"},
                                             {"accession_numbers", json::array{"A1"}}}).status, 403);
  auto job = as_a.Post("/jobs", json::object{{"researcher_id", a.researcher_id}, {"name", "j"},
                                             {"accession_numbers", json::array{"A1"}}});
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string job_id = Id(job);
  EXPECT_EQ(as_b.Patch("/jobs/" + job_id, json::object{{"name", "k"}}).status, 403);
  EXPECT_EQ(as_a.Patch("/jobs/" + job_id, json::object{{"researcher_id", b.researcher_id}}).status, 403);
  EXPECT_EQ(as_b.Delete("/jobs/" + job_id).status, 403);
  EXPECT_EQ(as_a.Patch("/jobs/" + job_id, json::object{{"name", "k"}}).status, 200);
  EXPECT_EQ(as_a.Delete("/jobs/" + job_id).status, 204);
  EXPECT_EQ(as_a.Delete("/collections/" + collection).status, 204);
}

TEST_F(AuthTest, AuditRecordsWritesAndRefusalsAndCannotBeEdited) {
  AuthServer server;
  Researcher a = MakeResearcher(server);
  HttpClient as_a = server.Client(a.token);
  auto collection = as_a.Post("/collections", json::object{{"name", Unique("c")}});
  ASSERT_EQ(collection.status, 201);
  const std::string collection_id = Id(collection);
  EXPECT_EQ(as_a.Delete("/researchers/" + a.id).status, 403);
  HttpClient bad(server.server().port());
  bad.SetHeader("Authorization", "Bearer mdb_" + a.token_id + "_" + std::string(64, '0'));
  EXPECT_EQ(bad.Get("/studies").status, 401);
  // Reads are not audited.
  EXPECT_EQ(as_a.Get("/collections").status, 200);

  const auto writes = AuditResults(server, "?action=write&researcher_id=" + a.researcher_id);
  ASSERT_EQ(writes.size(), 1u);
  const auto& write = writes.at(0).as_object();
  EXPECT_EQ(write.at("actor"), "researcher");
  EXPECT_EQ(write.at("token_id"), json::value(a.token_id));
  EXPECT_EQ(write.at("method"), "POST");
  EXPECT_EQ(write.at("kind"), "collections");
  EXPECT_EQ(write.at("path"), "/collections");
  EXPECT_EQ(write.at("status"), 201);
  EXPECT_EQ(write.at("documents"), 1);
  EXPECT_EQ(write.at("document_ids").at(0), json::value(collection_id));
  EXPECT_EQ(write.at("client"), "127.0.0.1");

  const auto denied = AuditResults(server, "?action=denied");
  ASSERT_EQ(denied.size(), 2u);
  EXPECT_EQ(denied.at(0).at("status"), 401);  // newest first
  EXPECT_EQ(denied.at(0).at("actor"), "anonymous");
  EXPECT_EQ(denied.at(0).at("path"), "/studies");
  EXPECT_EQ(denied.at(1).at("status"), 403);
  EXPECT_EQ(denied.at(1).at("researcher_id"), json::value(a.researcher_id));
  EXPECT_EQ(denied.at(1).at("document_ids").at(0), json::value(a.id));
  // The admin's own writes: the researcher and its token.
  EXPECT_EQ(AuditResults(server, "?actor=admin&action=write").size(), 2u);
  // Filters and paging.
  auto page = server.Admin().Get("/audit?limit=1&skip=1");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Json().at("results").as_array().size(), 1u);
  EXPECT_EQ(page.Json().at("total"), 5);
  EXPECT_EQ(AuditResults(server, "?status=403").size(), 1u);
  EXPECT_EQ(AuditResults(server, "?kind=access").size(), 1u);  // the token's creation
  EXPECT_EQ(AuditResults(server, "?path_prefix=/researchers/").size(), 2u);  // the token, the refused delete
  EXPECT_EQ(AuditResults(server, "?since=2199-01-01").size(), 0u);
  EXPECT_EQ(AuditResults(server, "?until=2199-01-01").size(), 5u);
  EXPECT_EQ(server.Admin().Get("/audit?since=2999-01-01").status, 400);
  EXPECT_EQ(server.Admin().Get("/audit?status=abc").status, 400);
  EXPECT_EQ(server.Admin().Get("/audit?since=yesterday").status, 400);

  // No endpoint changes the log, not even for the admin.
  HttpClient admin = server.Admin();
  const std::string some_id(write.at("_id").as_string());
  EXPECT_EQ(admin.Post("/audit", json::object{{"action", "write"}}).status, 405);
  EXPECT_EQ(admin.Delete("/audit").status, 405);
  EXPECT_EQ(admin.Patch("/audit", json::object{}).status, 405);
  EXPECT_EQ(admin.Delete("/audit/" + some_id).status, 404);
  EXPECT_EQ(admin.Patch("/audit/" + some_id, json::object{{"status", 200}}).status, 404);
  EXPECT_EQ(AuditResults(server, "?limit=1000").size(), 5u);
}

TEST_F(AuthTest, PublicReadAdmitsReadsOnly) {
  AuthServer server({"--public-read"});
  HttpClient anonymous = server.Client();
  EXPECT_EQ(anonymous.Get("/studies").status, 200);
  EXPECT_EQ(anonymous.Get("/stats").status, 200);
  EXPECT_EQ(anonymous.Post("/query", json::object{{"collection", "series"}}).status, 200);
  auto whoami = anonymous.Get("/auth/whoami");
  ASSERT_EQ(whoami.status, 200);
  EXPECT_EQ(whoami.Json().at("role"), "anonymous");
  EXPECT_EQ(anonymous.Post("/collections", json::object{{"name", Unique("c")}}).status, 401);
  EXPECT_EQ(anonymous.Post("/jobs", json::object{{"researcher_id", "r1"}, {"name", "j"}}).status, 401);
  EXPECT_EQ(anonymous.Get("/audit").status, 401);
  EXPECT_EQ(anonymous.Get("/researchers/0123456789abcdef01234567/tokens").status, 401);
  // A wrong token is refused, not read as anonymous.
  EXPECT_EQ(server.Client("wrong").Get("/studies").status, 401);
  const auto doc = anonymous.Get("/openapi.json").Json();
  EXPECT_EQ(doc.at("paths").at("/studies").at("get").at("security").as_array().size(), 2u);
}

TEST_F(AuthTest, WithoutAdminTokenOnlyLoopback) {
  testing::TempDir dir;
  testing::TestDatabase db("bind");
  OpenStore(db.uri());  // a catalogue to serve: the refusals below are about the address and the token
  for (const char* host : {"0.0.0.0", "::", "192.0.2.1", "127.0.0.1.example.org"}) {
    const auto result = testing::RunCommand({testing::MetaDbBinary(), "serve", "--db", db.uri(), "--host", host,
                                             "--port", std::to_string(FreePort())});
    EXPECT_EQ(result.exit_code, 2) << host << ": " << result.err;
    EXPECT_NE(result.err.find("META_DB_ADMIN_TOKEN"), std::string::npos) << result.err;
  }
  // A token too short to be a secret is refused as well.
  std::ofstream(dir / "short") << "abc\n";
  const auto result = testing::RunCommand({testing::MetaDbBinary(), "serve", "--db", db.uri(), "--admin-token-file",
                                           (dir / "short").string(), "--port", std::to_string(FreePort())});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("at least 16"), std::string::npos) << result.err;
  // The token from a file works like the environment's.
  std::ofstream(dir / "admin") << kAdminToken << "\n";
  ServerProcess server(dir.path(), db.uri(), {"--admin-token-file", (dir / "admin").string()}, {});
  HttpClient client(server.port());
  EXPECT_EQ(client.Get("/studies").status, 401);
  client.SetHeader("Authorization", Bearer(kAdminToken));
  EXPECT_EQ(client.Get("/studies").status, 200);
  EXPECT_EQ(server.Stop(), 0);
}

TEST_F(AuthTest, RateLimitAnswers429WithRetryAfter) {
  AuthServer server({"--rate-limit", "1", "--rate-burst", "3"});
  HttpClient admin = server.Admin();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(admin.Get("/studies").status, 200) << i;
  auto limited = admin.Get("/studies");
  EXPECT_EQ(limited.status, 429) << limited.body;
  EXPECT_EQ(limited.Header("retry-after"), "1");
  // Another caller has a bucket of its own (here: the client address, for requests without a valid token).
  HttpClient anonymous = server.Client();
  EXPECT_EQ(anonymous.Get("/studies").status, 401);
  // The public endpoints are never limited.
  EXPECT_EQ(admin.Get("/health").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(admin.Get("/studies").status, 200);
  EXPECT_EQ(admin.Get("/studies").status, 429);
  // Rate-limited requests are not audited (a flood cannot fill the log); the refused token use is.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  auto audit = admin.Get("/audit");
  ASSERT_EQ(audit.status, 200) << audit.body;
  ASSERT_EQ(audit.Json().at("total"), 1);
  EXPECT_EQ(audit.Json().at("results").at(0).at("status"), 401);
}

TEST_F(AuthTest, CorsAllowListAndPreflight) {
  AuthServer server({"--cors-origin", "http://localhost:5173", "--cors-origin", "http://127.0.0.1:4173"});
  HttpClient client(server.server().port());
  client.SetHeader("Origin", "http://localhost:5173");
  client.SetHeader("Access-Control-Request-Method", "POST");
  client.SetHeader("Access-Control-Request-Headers", "authorization, content-type");
  auto preflight = client.Send("OPTIONS", "/query");
  EXPECT_EQ(preflight.status, 204) << preflight.body;
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "http://localhost:5173");
  EXPECT_NE(preflight.Header("access-control-allow-headers").find("Authorization"), std::string::npos);
  EXPECT_NE(preflight.Header("access-control-allow-methods").find("POST"), std::string::npos);
  EXPECT_EQ(preflight.Header("vary"), "Origin");

  client.SetHeader("Origin", "http://evil.example");
  auto refused = client.Send("OPTIONS", "/query");
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.Header("access-control-allow-origin"), "");

  client.SetHeader("Access-Control-Request-Method", "");
  client.SetHeader("Access-Control-Request-Headers", "");
  client.SetHeader("Authorization", Bearer(kAdminToken));
  auto foreign = client.Get("/studies");
  EXPECT_EQ(foreign.status, 200);
  EXPECT_EQ(foreign.Header("access-control-allow-origin"), "");
  client.SetHeader("Origin", "http://127.0.0.1:4173");
  auto allowed = client.Get("/studies");
  EXPECT_EQ(allowed.status, 200);
  EXPECT_EQ(allowed.Header("access-control-allow-origin"), "http://127.0.0.1:4173");
  EXPECT_EQ(allowed.Header("vary"), "Origin");
  // An allowed origin without a token still gets a 401 the page can read.
  client.SetHeader("Authorization", "");
  auto unauthorized = client.Get("/studies");
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.Header("access-control-allow-origin"), "http://127.0.0.1:4173");
}

TEST_F(AuthTest, CorsIsOffByDefault) {
  AuthServer server({}, false);
  HttpClient client(server.server().port());
  client.SetHeader("Origin", "http://localhost:5173");
  client.SetHeader("Access-Control-Request-Method", "GET");
  auto preflight = client.Send("OPTIONS", "/studies");
  EXPECT_EQ(preflight.status, 405);
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "");
  auto get = client.Get("/studies");
  EXPECT_EQ(get.status, 200);  // no admin token: the local user
  EXPECT_EQ(get.Header("access-control-allow-origin"), "");
}

TEST_F(AuthTest, CommandsAreAuditedWithTheOsUser) {
  testing::TempDir dir;
  AuthServer server;
  const auto synth = testing::RunCommand(
      {testing::MetaDbBinary(), "synth", "--patients", "1", "--small", "--out", (dir / "archive").string()});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  const auto ingest = testing::RunCommand(
      {testing::MetaDbBinary(), "ingest", (dir / "archive").string(), "--db", server.uri(), "--quiet"});
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  const auto check = testing::RunCommand({testing::MetaDbBinary(), "check", "--repair", "--db", server.uri(), "--quiet"});
  ASSERT_EQ(check.exit_code, 0) << check.err;
  const auto records = AuditResults(server, "?actor=os");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records.at(0).at("action"), "check");
  const auto& run = records.at(1).as_object();
  EXPECT_EQ(run.at("action"), "ingest");
  EXPECT_EQ(run.at("status"), 0);
  EXPECT_GT(run.at("documents").as_int64(), 0);
  EXPECT_FALSE(run.at("researcher_id").as_string().empty());  // the OS user
  EXPECT_NE(run.at("path").as_string().find("archive"), std::string::npos);

  // migrate records its run in the target store.
  const std::string target = "sqlite:" + (dir / "copy.sqlite").string();
  const auto migrate = testing::RunCommand({testing::MetaDbBinary(), "migrate", "--from", server.uri(), "--to", target,
                                            "--quiet"});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  AuditQuery query;
  query.action = "migrate";
  AuditPage page;
  OpenStore(target)->Read([&](Session& session) { page = session.FindAudit(query); });
  ASSERT_EQ(page.total, 1);
  EXPECT_EQ(page.records.at(0).actor, "os");
  EXPECT_GT(page.records.at(0).documents, 0);
}

}  // namespace

}  // namespace meta_db::api_test
