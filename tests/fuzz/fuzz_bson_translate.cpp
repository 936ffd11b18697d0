// Fuzz target: the MongoDB translation (store/mongo/mongo_filter.cpp): a query the parser accepts is serialised
// to BSON filter and sort documents (with and without a text index). Properties: no crash, and what comes out is
// well-formed BSON with valid UTF-8 (libbson's own validator), readable as extended JSON; what BSON cannot hold is an
// Error(kUnprocessable), never an abort.
#include "fuzz_support.hpp"

#include "query/query.hpp"
#include "store/mongo/mongo_filter.hpp"

namespace {

using meta_db::fuzz::Broken;

void CheckBson(const meta_db::mongo::Bson& doc, const char* what) {
  bson_error_t error;
  // Strings may hold NUL (BSON strings carry their length); field names may not.
  const auto flags = static_cast<bson_validate_flags_t>(BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL);
  if (!bson_validate_with_error(doc.get(), flags, &error)) {
    Broken(std::string(what) + " is not valid BSON: " + error.message);
  }
  char* text = bson_as_canonical_extended_json(doc.get(), nullptr);
  if (text == nullptr) Broken(std::string(what) + " cannot be written as extended JSON");
  bson_free(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto value = meta_db::fuzz::JsonOf(meta_db::fuzz::Bytes(data, size));
  if (!value || !value->is_object()) return 0;  // a filter is an object
  meta_db::query::Query q;
  try {
    // A POST /query body, else a bare filter.
    const auto& body = value->as_object();
    if (body.contains("filter") || body.contains("query") || body.contains("sort") || body.contains("q")) {
      q = meta_db::query::ParseQueryRequest(body);
    } else {
      q.filter = meta_db::query::ParseFilter(*value);
    }
  } catch (const meta_db::Error& error) {
    if (error.code() != meta_db::Errc::kBadRequest) Broken(std::string("parse: non-400 error: ") + error.what());
    return 0;
  }
  try {
    CheckBson(meta_db::mongo::EncodeFilter(q.filter.get(), q.text, false), "the filter");
    CheckBson(meta_db::mongo::EncodeFilter(q.filter.get(), q.text, true), "the filter (text index)");
    CheckBson(meta_db::mongo::EncodeSort(q.sort), "the sort");
  } catch (const meta_db::Error& error) {
    // What BSON cannot hold (a NUL in a field name of an operand) is refused, a 422 over HTTP.
    if (error.code() != meta_db::Errc::kUnprocessable) Broken(std::string("encode: ") + error.what());
  }
  return 0;
}
