// Fuzz target: request targets ("/path?query"): Boost.URL's parse and percent-decoding (db_api::ParseTarget), then
// the GET routes' strict parameter checks and list-query building on a real SQLite catalogue.
// Properties: a malformed target is only ever a 400; a parsed one never gets a 5xx, and every JSON answer parses.
#include "api_fixture.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const meta_db::fuzz::ApiFixture api;
  meta_db::db_api::Request request;
  request.method = "GET";
  try {
    meta_db::db_api::ParseTarget(meta_db::fuzz::Bytes(data, size), request);
  } catch (const meta_db::Error& error) {
    if (error.code() != meta_db::Errc::kBadRequest) meta_db::fuzz::Broken("ParseTarget threw a non-400 error");
    return 0;
  }
  api.Dispatch(request);
  return 0;
}
