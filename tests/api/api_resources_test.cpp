// Black-box tests (on the back-end under test) of the resources and the error model: researchers, collections, studies/series/instances,
// jobs, invariants after writes and cascades, concurrent writers, docs and static files.
#include "api_test_util.hpp"

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

namespace meta_db::api_test {
namespace {

namespace json = boost::json;

TEST(ApiService, HealthReportsBackendAndVersion) {
  HttpClient client = Client();
  HttpResponse response = client.Get("/health");
  ASSERT_EQ(response.status, 200);
  EXPECT_EQ(response.Json(),
            (json::object{{"status", "ok"}, {"db", testing::TestBackend()}, {"version", "0.1.0"}}));
  EXPECT_EQ(response.Header("content-type"), "application/json");
}

TEST(ApiErrors, MalformedJsonIs400WithPosition) {
  HttpClient client = Client();
  HttpResponse response = client.Send("POST", "/researchers", R"({"researcher_id": "x", )");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "bad_request");
  EXPECT_TRUE(ErrorDetails(response).as_object().contains("position")) << response.body;
}

TEST(ApiErrors, WrongTypesAndMissingFieldsAre422NamingTheField) {
  HttpClient client = Client();
  HttpResponse missing = client.Post("/researchers", {{"researcher_id", Unique("r")}, {"email", "a@b.org"}});
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(ErrorDetails(missing).at("field"), "name");
  HttpResponse wrong = client.Post("/series", {{"series_instance_uid", 5}, {"study_id", "x"}});
  EXPECT_EQ(wrong.status, 422);
  EXPECT_EQ(ErrorDetails(wrong).at("field"), "series_instance_uid");
  HttpResponse not_object = client.Send("POST", "/studies", "[1,2]");
  EXPECT_EQ(not_object.status, 422);
}

TEST(ApiErrors, BadObjectIdIs400AndUnknownIdIs404) {
  HttpClient client = Client();
  EXPECT_EQ(client.Get("/studies/not-an-id").status, 400);
  EXPECT_EQ(client.Get("/studies/0123456789abcdef0123456z").status, 400);
  HttpResponse missing = client.Get("/studies/0123456789abcdef01234567");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "not_found");
  EXPECT_EQ(client.Delete("/series/0123456789abcdef01234567").status, 404);
  EXPECT_EQ(client.Patch("/instances/0123456789abcdef01234567", json::object{}).status, 404);
}

TEST(ApiErrors, UnknownRoute404WrongMethod405UnknownParam400) {
  HttpClient client = Client();
  HttpResponse unknown = client.Get("/nope/at/all");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrorCode(unknown), "not_found");
  HttpResponse wrong = client.Send("PUT", "/studies");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.Header("allow"), "POST, GET");
  HttpResponse param = client.Get("/series?modalty=CT");
  EXPECT_EQ(param.status, 400);
  EXPECT_EQ(ErrorDetails(param).at("parameter"), "modalty");
  EXPECT_EQ(client.Get("/series?limit=1001").status, 400);
  EXPECT_EQ(client.Get("/series?limit=-1").status, 400);
  EXPECT_EQ(client.Get("/series?skip=abc").status, 400);
  EXPECT_EQ(client.Get("/studies?study_date_from=2020-13-45").status, 400);
  EXPECT_EQ(client.Get("/series?slice_thickness_min=thin").status, 400);
}

TEST(ApiErrors, UnsupportedMediaTypeIs415) {
  HttpClient client = Client();
  HttpResponse response = client.Send("POST", "/researchers", R"({"a":1})", "text/plain");
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(ErrorCode(response), "unsupported_media_type");
  HttpResponse charset = client.Send("POST", "/researchers", R"({"a":1})", "application/json; charset=utf-8");
  EXPECT_EQ(charset.status, 422);  // accepted media type, then validated
}

TEST(ApiErrors, BodyOverTheLimitIs413) {
  HttpClient client = Client();
  const std::string big = "{\"name\": \"" + std::string(1100000, 'x') + "\"}";
  HttpResponse response = client.Send("POST", "/collections", big);
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(ErrorCode(response), "payload_too_large");
  EXPECT_EQ(Client().Get("/health").status, 200);  // and the server is fine
}

TEST(ApiErrors, ExpectContinueGetsAnInterimAnswerOrAnEarly413) {
  HttpClient client = Client();
  const std::string head = "POST /collections HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: ";
  EXPECT_EQ(client.Raw(head + "20\r\n\r\n").status, 100);  // the client may now send its body
  EXPECT_EQ(client.Raw(head + "5000000\r\n\r\n").status, 413);
}

TEST(ApiErrors, MalformedHttpIs400AndServerSurvives) {
  HttpClient client = Client();
  HttpResponse response = client.Raw("GARBAGE\r\n\r\n");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Client().Get("/health").status, 200);
}

TEST(ApiResearchers, CrudUniqueKeyAndEmail) {
  HttpClient client = Client();
  const std::string rid = Unique("r");
  HttpResponse created = client.Post("/researchers", {{"researcher_id", rid}, {"name", "Dr. Alice Lee"},
                                                      {"email", "alice@example.org"},
                                                      {"created_at", "1999-01-01T00:00:00Z"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const json::object doc = created.Json().as_object();
  const std::string id = IdOf(created);
  EXPECT_EQ(created.Header("location"), "/researchers/" + id);
  EXPECT_NE(doc.at("created_at"), "1999-01-01T00:00:00Z");  // never trusted from the client
  EXPECT_EQ(doc.at("jobs"), json::array{});

  HttpResponse duplicate = client.Post("/researchers", {{"researcher_id", rid}, {"name", "B"}, {"email", "b@x.org"}});
  EXPECT_EQ(duplicate.status, 409);
  EXPECT_EQ(ErrorCode(duplicate), "conflict");
  HttpResponse bad_email = client.Post("/researchers", {{"researcher_id", Unique("r")}, {"name", "B"},
                                                        {"email", "not-an-email"}});
  EXPECT_EQ(bad_email.status, 422);
  EXPECT_EQ(ErrorDetails(bad_email).at("field"), "email");
  HttpResponse extra = client.Post("/researchers", {{"researcher_id", Unique("r")}, {"name", "B"},
                                                    {"email", "b@x.org"}, {"age", 3}});
  EXPECT_EQ(extra.status, 422);
  EXPECT_EQ(ErrorDetails(extra).at("field"), "age");

  EXPECT_EQ(client.Get("/researchers/" + id).Json().at("researcher_id"), rid.c_str());
  HttpResponse listed = client.Get("/researchers?researcher_id=" + rid);
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.Json().at("total"), 1);
  HttpResponse patched = client.Patch("/researchers/" + id, {{"email", "alice@lee.org"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.Json().at("email"), "alice@lee.org");
  EXPECT_EQ(client.Patch("/researchers/" + id, {{"email", "nope"}}).status, 422);
  EXPECT_EQ(client.Patch("/researchers/" + id, {{"created_at", "2000-01-01T00:00:00Z"}}).status, 422);
  EXPECT_EQ(client.Patch("/researchers/" + id, {{"name", nullptr}}).status, 422);
  EXPECT_EQ(client.Get("/researchers/" + id).Json().at("email"), "alice@lee.org");  // failed patches wrote nothing
  EXPECT_EQ(client.Delete("/researchers/" + id).status, 204);
  EXPECT_EQ(client.Get("/researchers/" + id).status, 404);
}

TEST(ApiCollections, CasesAndStudiesOfACollection) {
  HttpClient client = Client();
  const std::string name = Unique("LIDC");
  json::object collection = MustCreate(client, "/collections", {{"name", name}, {"description", "lungs"}});
  const std::string cid(collection.at("_id").as_string());
  EXPECT_EQ(client.Post("/collections", {{"name", name}}).status, 409);
  const std::string patient = Unique("P"), accession = Unique("ACC");
  HttpResponse appended = client.Post("/collections/" + cid + "/cases",
                                      {{"cases", json::array{json::object{{"case_id", "CASE001"},
                                                                          {"patient_id", patient},
                                                                          {"accession_numbers", {accession}}}}}});
  ASSERT_EQ(appended.status, 200) << appended.body;
  EXPECT_EQ(appended.Json().at("cases").as_array().size(), 1u);
  EXPECT_EQ(client.Post("/collections/" + cid + "/cases", {{"case_id", "CASE001"}}).status, 409);
  EXPECT_EQ(client.Post("/collections/" + cid + "/cases", {{"case_id", 7}}).status, 422);
  EXPECT_EQ(client.Post("/collections/" + cid + "/cases", {{"case_id", "CASE002"}}).status, 200);

  // Three ways in: by patient (case), by accession (case), by collection_ids tag; and one study outside.
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.2.3")}, {"patient_id", patient}});
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.2.3")}, {"accession_number", accession}});
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.2.3")}, {"collection_ids", {cid}}});
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.2.3")}, {"patient_id", Unique("other")}});
  HttpResponse studies = client.Get("/collections/" + cid + "/studies");
  ASSERT_EQ(studies.status, 200) << studies.body;
  EXPECT_EQ(studies.Json().at("total"), 3);
  EXPECT_EQ(client.Get("/collections/" + cid + "/studies?patient_id=" + patient).Json().at("total"), 1);
  EXPECT_EQ(client.Get("/studies?collection_id=" + cid).Json().at("total"), 1);
  EXPECT_EQ(client.Post("/studies", {{"study_instance_uid", Unique("1.2.3")},
                                     {"collection_ids", {"0123456789abcdef01234567"}}}).status, 422);
  // Deleting the collection removes its tag from the studies.
  const std::string tagged(client.Get("/studies?collection_id=" + cid).Json().at("results").as_array()[0].at("_id")
                               .as_string());
  EXPECT_EQ(client.Delete("/collections/" + cid).status, 204);
  EXPECT_EQ(client.Get("/studies/" + tagged).Json().at("collection_ids"), json::array{});
}

// Creates a study with `series_count` series of `instances` instances each; returns {study, series ids}.
std::pair<std::string, std::vector<std::string>> MakeTree(HttpClient& client, int series_count, int instances) {
  const std::string study = std::string(MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.9")},
                                                                         {"patient_id", Unique("PT")}})
                                            .at("_id").as_string());
  std::vector<std::string> series;
  for (int s = 0; s < series_count; ++s) {
    json::object doc = MustCreate(client, "/series", {{"series_instance_uid", Unique("1.9.1")}, {"study_id", study},
                                                      {"series_number", series_count - s}, {"modality", "CT"}});
    series.emplace_back(doc.at("_id").as_string());
    for (int i = 0; i < instances; ++i) {
      MustCreate(client, "/instances", {{"sop_instance_uid", Unique("1.9.1.1")}, {"series_id", series.back()},
                                        {"instance_number", instances - i}});
    }
  }
  return {study, series};
}

TEST(ApiHierarchy, SummariesCountsAndOrdering) {
  HttpClient client = Client();
  auto [study, series] = MakeTree(client, 2, 3);
  json::object study_doc = client.Get("/studies/" + study).Json().as_object();
  ASSERT_EQ(study_doc.at("series").as_array().size(), 2u);
  EXPECT_EQ(study_doc.at("series").as_array()[0].at("series_number"), 1);  // ordered by series_number
  json::object series_doc = client.Get("/series/" + series[0]).Json().as_object();
  EXPECT_EQ(series_doc.at("num_instances"), 3);
  EXPECT_EQ(series_doc.at("instances").as_array().size(), 3u);

  HttpResponse children = client.Get("/studies/" + study + "/series");
  ASSERT_EQ(children.status, 200);
  EXPECT_EQ(children.Json().at("total"), 2);
  HttpResponse instances = client.Get("/series/" + series[0] + "/instances?limit=2");
  ASSERT_EQ(instances.status, 200);
  EXPECT_EQ(instances.Json().at("total"), 3);
  EXPECT_EQ(instances.Json().at("results").as_array().size(), 2u);
  EXPECT_EQ(instances.Json().at("results").as_array()[0].at("instance_number"), 1);
  EXPECT_EQ(client.Get("/series/" + series[0] + "/instances?modality=CT").status, 400);
  EXPECT_EQ(client.Get("/studies/0123456789abcdef01234567/series").status, 404);

  const std::string uid(series_doc.at("series_instance_uid").as_string());
  EXPECT_EQ(IdOf(client.Get("/series/uid/" + uid)), series[0]);
  EXPECT_EQ(client.Get("/series/uid/1.2.does.not.exist").status, 404);

  HttpResponse orphan = client.Post("/series", {{"series_instance_uid", Unique("1.9.1")},
                                                {"study_id", "0123456789abcdef01234567"}});
  EXPECT_EQ(orphan.status, 422);
  EXPECT_EQ(ErrorDetails(orphan).at("field"), "study_id");
  EXPECT_EQ(client.Patch("/series/" + series[0], {{"num_instances", 99}}).status, 422);

  // Moving an instance to the other series updates both lists.
  const std::string moved(instances.Json().at("results").as_array()[0].at("_id").as_string());
  ASSERT_EQ(client.Patch("/instances/" + moved, {{"series_id", series[1]}}).status, 200);
  EXPECT_EQ(client.Get("/series/" + series[0]).Json().at("num_instances"), 2);
  EXPECT_EQ(client.Get("/series/" + series[1]).Json().at("num_instances"), 4);
}

TEST(ApiHierarchy, DeleteWithChildrenConflictsUnlessCascade) {
  HttpClient client = Client();
  auto [study, series] = MakeTree(client, 2, 2);
  EXPECT_EQ(client.Delete("/studies/" + study).status, 409);
  EXPECT_EQ(client.Delete("/series/" + series[0]).status, 409);
  EXPECT_EQ(client.Get("/studies/" + study).status, 200);  // nothing partially removed
  EXPECT_EQ(client.Delete("/studies/" + study + "?cascade=maybe").status, 400);
  // Removing an instance updates its series; a cascade removes the subtree.
  const std::string instance(
      client.Get("/series/" + series[1] + "/instances").Json().at("results").as_array()[0].at("_id").as_string());
  EXPECT_EQ(client.Delete("/instances/" + instance).status, 204);
  EXPECT_EQ(client.Get("/series/" + series[1]).Json().at("num_instances"), 1);
  EXPECT_EQ(client.Delete("/series/" + series[0] + "?cascade=true").status, 204);
  EXPECT_EQ(client.Get("/studies/" + study).Json().at("series").as_array().size(), 1u);
  EXPECT_EQ(client.Delete("/studies/" + study + "?cascade=true").status, 204);
  EXPECT_EQ(client.Get("/studies/" + study).status, 404);
  EXPECT_EQ(client.Get("/series/" + series[1]).status, 404);
  EXPECT_EQ(client.Get("/instances?series_id=" + series[1]).Json().at("total"), 0);
}

TEST(ApiHierarchy, ConcurrentWritersLoseNoUpdates) {
  HttpClient client = Client();
  auto [study, series] = MakeTree(client, 1, 0);
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HttpClient own(SharedServer().port());
      for (int i = 0; i < kPerThread; ++i) {
        const int number = t * kPerThread + i + 1;
        HttpResponse response = own.Post("/instances", {{"sop_instance_uid", Unique("1.8")},
                                                        {"series_id", series[0]}, {"instance_number", number}});
        if (response.status == 201) ++created;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(created.load(), kThreads * kPerThread);
  json::object doc = client.Get("/series/" + series[0]).Json().as_object();
  EXPECT_EQ(doc.at("num_instances"), kThreads * kPerThread);
  EXPECT_EQ(doc.at("instances").as_array().size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(client.Get("/series/" + series[0] + "/instances?limit=0").Json().at("total"), kThreads * kPerThread);
}

TEST(ApiJobs, ResolvesIdentifiersAndLinksResearcher) {
  HttpClient client = Client();
  const std::string rid = Unique("r");
  const std::string researcher = std::string(
      MustCreate(client, "/researchers", {{"researcher_id", rid}, {"name", "R"}, {"email", "r@x.org"}})
          .at("_id").as_string());
  const std::string accession = Unique("ACC"), patient = Unique("PAT");
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.7")}, {"accession_number", accession}});
  MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.7")}, {"patient_id", patient}});
  HttpResponse created = client.Post("/jobs", {{"researcher_id", rid}, {"name", "cohort"},
                                               {"accession_numbers", {accession, "ACC-MISSING"}},
                                               {"patient_ids", {patient}}});
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string job_id(created.Json().at("_id").as_string());
  EXPECT_EQ(client.Get("/researchers/" + researcher).Json().at("jobs"), json::array{job_id.c_str()});
  // Resolved in the background.
  auto wait_done = [&] {
    json::object job;
    for (int i = 0; i < 600; ++i) {
      job = client.Get("/jobs/" + job_id).Json().as_object();
      if (job.at("status") == "done") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return job;
  };
  json::object job = wait_done();
  EXPECT_EQ(job.at("status"), "done");
  EXPECT_EQ(job.at("matched"), 2);
  EXPECT_EQ(job.at("unmatched"), json::array{"ACC-MISSING"});
  EXPECT_EQ(client.Get("/researchers/" + rid + "/jobs").Json().at("total"), 1);

  EXPECT_EQ(client.Patch("/jobs/" + job_id, {{"status", "exploded"}}).status, 422);
  EXPECT_EQ(client.Patch("/jobs/" + job_id, {{"progress", 101}}).status, 422);
  HttpResponse retargeted = client.Patch("/jobs/" + job_id, {{"accession_numbers", json::array{}}});
  ASSERT_EQ(retargeted.status, 200) << retargeted.body;
  EXPECT_EQ(wait_done().at("matched"), 1);
  EXPECT_EQ(client.Patch("/jobs/" + job_id, {{"patient_ids", json::array{}}}).status, 422);  // nothing left
  EXPECT_EQ(client.Get("/jobs?researcher_id=" + rid).Json().at("total"), 1);
  EXPECT_EQ(client.Post("/jobs", {{"researcher_id", rid}, {"name", "x"}, {"accession_numbers", {accession}},
                                  {"collection_id", "0123456789abcdef01234567"}}).status, 422);
  EXPECT_EQ(client.Post("/jobs", {{"researcher_id", Unique("nobody")}, {"name", "x"},
                                  {"accession_numbers", {accession}}}).status, 404);
  EXPECT_EQ(client.Delete("/jobs/" + job_id).status, 204);
  EXPECT_EQ(client.Get("/researchers/" + researcher).Json().at("jobs"), json::array{});
}

TEST(ApiDocs, OpenApiAndSwaggerUi) {
  HttpClient client = Client();
  HttpResponse openapi = client.Get("/openapi.json");
  ASSERT_EQ(openapi.status, 200);
  json::object doc = openapi.Json().as_object();
  EXPECT_EQ(doc.at("openapi"), "3.0.3");
  EXPECT_TRUE(doc.at("paths").as_object().contains("/studies/{id}/series"));
  EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("StudyCreate"));
  HttpResponse page = client.Get("/docs");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(page.Header("content-type"), "text/html; charset=utf-8");
  // No inline script (the Content-Security-Policy forbids them): the start-up is /docs/init.js.
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_NE(page.body.find("/docs/init.js"), std::string::npos);
  EXPECT_NE(page.Header("content-security-policy").find("script-src 'self'"), std::string::npos);
  HttpResponse init = client.Get("/docs/init.js");
  ASSERT_EQ(init.status, 200);
  EXPECT_NE(init.body.find("/openapi.json"), std::string::npos);
  HttpResponse bundle = client.Get("/docs/swagger-ui-bundle.js");
  EXPECT_EQ(bundle.status, 200) << "run: npm ci --prefix src/db_api/swagger";
  EXPECT_GT(bundle.body.size(), 100000u);
  const int traversal = client.Get("/docs/..%2f..%2fetc%2fpasswd").status;
  EXPECT_TRUE(traversal == 400 || traversal == 404) << traversal;
}

TEST(ApiStatic, DashboardFilesFallbackAndNoTraversal) {
  HttpClient client = Client();
  HttpResponse index = client.Get("/");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("dashboard"), std::string::npos);
  EXPECT_EQ(index.Header("content-type"), "text/html; charset=utf-8");
  HttpResponse deep = client.Get("/ui/studies/123");
  EXPECT_EQ(deep.status, 200);
  EXPECT_NE(deep.body.find("<title>dashboard"), std::string::npos);
  HttpResponse asset = client.Get("/assets/app.js");
  EXPECT_EQ(asset.status, 200);
  EXPECT_EQ(asset.Header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(client.Raw("GET /ui/../../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(client.Raw("GET /%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n").status, 400);
  EXPECT_EQ(client.Get("/missing.js").status, 404);
}

}  // namespace
}  // namespace meta_db::api_test
