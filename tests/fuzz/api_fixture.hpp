// The API as the server runs it, in process: the route table over a real SQLite catalogue in a scratch directory,
// seeded through the API itself with one document of each collection, so routes with an {id} have one to act on.
#pragma once

#include "fuzz_support.hpp"

#include "common/json_io.hpp"
#include "db_api/api.hpp"
#include "db_api/models.hpp"
#include "db_api/router.hpp"
#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <map>
#include <memory>

namespace meta_db::fuzz {

class ApiFixture {
 public:
  ApiFixture()
      : store_(OpenStore("sqlite:" + (dir_.path() / "catalogue.sqlite").string())),
        ctx_(*store_, "", ""),
        router_(db_api::BuildRoutes(ctx_)) {
    ctx_.openapi_json = ToJson(db_api::BuildOpenApi(router_.routes(), db_api::ModelSchemas()));  // as RunServer
    ids_["researchers"] = Create("/researchers", R"({"researcher_id":"r1","name":"R","email":"r@example.org"})");
    ids_["collections"] = Create("/collections", R"({"name":"C1","description":"seeded"})");
    ids_["studies"] = Create("/studies", R"({"study_instance_uid":"1.2.3","patient_id":"P1","accession_number":"A1"})");
    ids_["series"] = Create("/series", R"({"series_instance_uid":"1.2.3.4","modality":"CT","study_id":")" +
                                           ids_["studies"] + R"("})");
    ids_["instances"] = Create("/instances", R"({"sop_instance_uid":"1.2.3.4.5","series_id":")" + ids_["series"] +
                                                 R"("})");
    ids_["jobs"] = Create("/jobs", R"({"researcher_id":"r1","name":"J","accession_numbers":["A1"]})");
  }

  const db_api::Router& router() const { return router_; }

  // The route's pattern with "{id}" (and other parameters) filled with the seeded document of its collection.
  std::string Concrete(const std::string& pattern) const {
    std::string path = pattern;
    const std::string collection = pattern.substr(1, pattern.find('/', 1) - 1);
    const auto id = ids_.find(collection);
    for (std::size_t at; (at = path.find('{')) != std::string::npos;) {
      const std::size_t end = path.find('}', at);
      path.replace(at, end - at + 1, id != ids_.end() ? id->second : "x");
    }
    return path;
  }

  // Dispatches as the server does; a 5xx is a bug (nothing here is busy, slow or down).
  db_api::Response Dispatch(db_api::Request& request) const {
    db_api::Response response =
        router_.Dispatch(request, [this](const db_api::Request& r) { return db_api::StaticFallback(ctx_, r); });
    if (response.status >= 500) {
      Broken(request.method + " " + request.path + " answered " + std::to_string(response.status) + ": " +
             response.body);
    }
    if (response.content_type == "application/json") {
      try {
        ParseJson(response.body);
      } catch (const Error&) {
        Broken(request.method + " " + request.path + " answered JSON that does not parse: " + response.body);
      }
    }
    return response;
  }

 private:
  std::string Create(const std::string& path, const std::string& body) {
    db_api::Request request;
    request.method = "POST";
    request.path = path;
    request.headers["content-type"] = "application/json";
    request.body = body;
    const db_api::Response response = Dispatch(request);
    if (response.status != 201 && response.status != 202) Broken("seeding " + path + " answered " + std::to_string(response.status) + ": " +
                                       response.body);
    return std::string(ParseJson(response.body).at("_id").as_string());
  }

  ScratchDir dir_;
  std::unique_ptr<Store> store_;
  mutable db_api::ApiContext ctx_;
  db_api::Router router_;
  std::map<std::string, std::string> ids_;
};

}  // namespace meta_db::fuzz
