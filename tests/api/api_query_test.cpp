// Black-box tests of listing, filtering, paging, sorting, POST /query and the discovery endpoints.
#include "api_test_util.hpp"

#include "store/store.hpp"

#include <set>

namespace meta_db::api_test {
namespace {

namespace json = boost::json;

// A small catalogue tagged with a unique manufacturer so shared-database tests see only their own series.
class ApiQuery : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HttpClient client = Client();
    vendor_ = new std::string(Unique("VENDOR"));  // owned below, freed in TearDownTestSuite
    patient_ = new std::string(Unique("QP"));
    struct Row {
      const char* modality;
      const char* model;
      double thickness;
      const char* kernel;
      const char* date;
      const char* description;
    };
    const Row rows[] = {{"CT", "Sensation 16", 1.25, "B30f", "20010105", "Chest CT low dose"},
                        {"CT", "Sensation 64", 2.5, "B45f", "20031130", "CHEST routine"},
                        {"CT", "LightSpeed", 5.0, "STANDARD", "20051231", "Abdomen"},
                        {"CR", "Fluorospot", 0.0, "", "20070704", "Chest PA"}};
    for (int i = 0; i < 4; ++i) {
      const Row& row = rows[i];
      json::object study = MustCreate(client, "/studies", {{"study_instance_uid", Unique("1.5")},
                                                           {"patient_id", *patient_},
                                                           {"accession_number", Unique("QA")},
                                                           {"study_date", row.date},
                                                           {"metadata", {{"StudyDescription", row.description}}}});
      json::object meta{{"Manufacturer", *vendor_}, {"ManufacturerModelName", row.model},
                        {"BodyPartExamined", "CHEST"}};
      if (row.thickness > 0) meta["SliceThickness"] = row.thickness;
      if (*row.kernel != 0) meta["ConvolutionKernel"] = row.kernel;
      json::object series = MustCreate(client, "/series", {{"series_instance_uid", Unique("1.5.1")},
                                                           {"study_id", study.at("_id")},
                                                           {"series_number", i + 1},
                                                           {"modality", row.modality},
                                                           {"series_description", row.description},
                                                           {"metadata", meta}});
      for (int n = 0; n < i + 1; ++n) {
        MustCreate(client, "/instances", {{"sop_instance_uid", Unique("1.5.1.1")}, {"series_id", series.at("_id")},
                                          {"instance_number", n + 1}});
      }
    }
  }
  static void TearDownTestSuite() {
    delete vendor_;
    delete patient_;
  }
  static std::int64_t Total(const std::string& target) {
    HttpResponse response = Client().Get(target);
    EXPECT_EQ(response.status, 200) << target << " " << response.body;
    return response.status == 200 ? response.Json().at("total").as_int64() : -1;
  }
  static std::string Vendor() { return "metadata.Manufacturer=" + *vendor_; }
  static std::string* vendor_;
  static std::string* patient_;
};
std::string* ApiQuery::vendor_ = nullptr;
std::string* ApiQuery::patient_ = nullptr;

TEST_F(ApiQuery, SeriesFilters) {
  const std::string m = "&manufacturer=" + *vendor_;
  EXPECT_EQ(Total("/series?" + Vendor()), 4);
  EXPECT_EQ(Total("/series?modality=CT" + m), 3);
  EXPECT_EQ(Total("/series?manufacturer=" + vendor_->substr(0, 8) + "*&modality=CR"), 1);
  EXPECT_EQ(Total("/series?manufacturer_model_name=Sensation*" + m), 2);
  EXPECT_EQ(Total("/series?manufacturer_model_name=Sensation%2016" + m), 1);
  EXPECT_EQ(Total("/series?convolution_kernel=B??f" + m), 2);
  EXPECT_EQ(Total("/series?slice_thickness_min=2&slice_thickness_max=5" + m), 2);
  EXPECT_EQ(Total("/series?slice_thickness_max=1.25" + m), 1);
  EXPECT_EQ(Total("/series?series_description=chest" + m), 3);  // case-insensitive substring
  EXPECT_EQ(Total("/series?body_part_examined=CHEST" + m), 4);
  EXPECT_EQ(Total("/series?min_instances=3" + m), 2);
  EXPECT_EQ(Total("/series?metadata.SliceThickness=2.5" + m), 1);
  EXPECT_EQ(Total("/series?metadata.ConvolutionKernel=STANDARD" + m), 1);
  EXPECT_EQ(Total("/series?patient_id=" + *patient_), 4);
}

TEST_F(ApiQuery, FreeTextQ) {
  EXPECT_EQ(Total("/series?q=LightSpeed&" + Vendor()), 1);
}

TEST_F(ApiQuery, StudyFilters) {
  const std::string p = "&patient_id=" + *patient_;
  EXPECT_EQ(Total("/studies?modality=CT" + p), 3);  // via the series summary
  EXPECT_EQ(Total("/studies?modality=CR" + p), 1);
  EXPECT_EQ(Total("/studies?study_date_from=20030101&study_date_to=2005-12-31" + p), 2);
  EXPECT_EQ(Total("/studies?study_date_from=2006-01-01" + p), 1);
  EXPECT_EQ(Total("/studies?study_description=CHEST" + p), 3);
  EXPECT_EQ(Total("/studies?study_description=chest%20pa" + p), 1);
  EXPECT_EQ(Total("/studies?metadata.StudyDescription=Abdomen" + p), 1);
  EXPECT_EQ(Total("/studies?patient_id=" + patient_->substr(0, patient_->size() - 1) + "?"), 4);
}

TEST_F(ApiQuery, SortingBeforePagingWithTotal) {
  HttpClient client = Client();
  HttpResponse page = client.Get("/studies?patient_id=" + *patient_ + "&sort=-study_date&limit=2&skip=1");
  ASSERT_EQ(page.status, 200) << page.body;
  json::object body = page.Json().as_object();
  EXPECT_EQ(body.at("total"), 4);
  EXPECT_EQ(body.at("limit"), 2);
  EXPECT_EQ(body.at("skip"), 1);
  const auto& results = body.at("results").as_array();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].at("study_date"), "20051231");
  EXPECT_EQ(results[1].at("study_date"), "20031130");
  HttpResponse asc = client.Get("/series?" + Vendor() + "&sort=metadata.SliceThickness,series_number&limit=1");
  EXPECT_EQ(asc.Json().at("results").as_array()[0].at("series_number"), 4);  // missing sorts first
  EXPECT_EQ(client.Get("/series?sort=$bad").status, 400);
  HttpResponse defaults = client.Get("/series?" + Vendor());
  EXPECT_EQ(defaults.Json().at("limit"), 50);
  EXPECT_EQ(defaults.Json().at("skip"), 0);
}

TEST_F(ApiQuery, PostQueryAndItsErrors) {
  HttpClient client = Client();
  json::value body = {{"collection", "series"},
                      {"query", {{"$and", json::array{json::object{{"modality", "CT"}},
                                                      json::object{{"metadata.Manufacturer", *vendor_}},
                                                      json::object{{"metadata.SliceThickness", {{"$lte", 2.5}}}}}}}},
                      {"sort", {{"series_number", -1}}},
                      {"limit", 1},
                      {"projection", {{"series_number", 1}}}};
  HttpResponse response = client.Post("/query", body);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.Json().at("total"), 2);
  const json::value answer = response.Json();
  const auto& first = answer.at("results").as_array().at(0).as_object();
  EXPECT_EQ(first.at("series_number"), 2);
  EXPECT_FALSE(first.contains("metadata"));  // projection applied
  HttpResponse filter_alias = client.Post("/query", {{"collection", "series"},
                                                     {"filter", {{"metadata.Manufacturer", *vendor_}}}});
  EXPECT_EQ(filter_alias.Json().at("total"), 4);
  EXPECT_EQ(client.Post("/query", {{"collection", "patients"}, {"query", json::object{}}}).status, 400);
  EXPECT_EQ(client.Post("/query", {{"query", json::object{}}}).status, 400);
  HttpResponse where = client.Post("/query", {{"collection", "series"}, {"query", {{"$where", "1"}}}});
  EXPECT_EQ(where.status, 400);
  EXPECT_EQ(ErrorCode(where), "bad_request");
}

TEST_F(ApiQuery, FieldsStatsAndErrors) {
  HttpClient client = Client();
  HttpResponse fields = client.Get("/fields?collection=series");
  ASSERT_EQ(fields.status, 200) << fields.body;
  bool saw_manufacturer = false;
  const json::value listing = fields.Json();
  for (const auto& field : listing.at("fields").as_array()) {
    if (field.at("path") == "metadata.Manufacturer") {
      saw_manufacturer = true;
      EXPECT_TRUE(field.at("promoted").as_bool());
      EXPECT_GE(field.at("count").as_int64(), 4);
      EXPECT_LE(field.at("values").as_array().size(), 10u);
    }
  }
  EXPECT_TRUE(saw_manufacturer);
  EXPECT_EQ(client.Get("/fields?collection=nope").status, 400);
  HttpResponse stats = client.Get("/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_GE(stats.Json().at("counts").at("series").as_int64(), 4);
  for (const char* name : {"modality", "manufacturer", "manufacturer_model_name", "body_part_examined",
                           "convolution_kernel", "slice_thickness", "study_year", "instances_per_series"}) {
    EXPECT_TRUE(stats.Json().at("distributions").as_object().contains(name)) << name;
  }
  // The error register is written by ingest (another process); do the same through the store.
  auto store = OpenStore(SharedServer().db_uri());
  store->Write([](Session& session) {
    session.PutError("/archive/a.dcm", "truncated header", "2026-01-01T00:00:00.000Z");
    session.PutError("/archive/b.dcm", "not DICOM", "2026-01-01T00:00:00.000Z");
  });
  HttpResponse errors = client.Get("/errors?limit=1");
  ASSERT_EQ(errors.status, 200) << errors.body;
  const json::value register_page = errors.Json();
  EXPECT_EQ(register_page.at("total"), 2);
  ASSERT_EQ(register_page.at("results").as_array().size(), 1u);
  for (const char* key : {"path", "reason", "first_seen", "last_seen"}) {
    EXPECT_TRUE(register_page.at("results").as_array()[0].as_object().contains(key)) << key;
  }
  EXPECT_EQ(client.Get("/errors?limit=5000").status, 400);
}

}  // namespace
}  // namespace meta_db::api_test
