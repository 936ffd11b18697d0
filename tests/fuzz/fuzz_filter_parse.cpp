// Fuzz target: the filter language's front end (query/parse.cpp) and the reference matcher. The bytes are a
// POST /query body, or a bare filter when they are not one. Properties: rejection is only ever Error(kBadRequest);
// an accepted query can be matched, sorted and projected over hostile documents without a crash.
#include "filter_documents.hpp"
#include "fuzz_support.hpp"

#include "query/query.hpp"

#include <algorithm>

namespace {

using meta_db::Errc;
using meta_db::Error;
using meta_db::fuzz::Broken;

template <typename Fn>
void ExpectOnlyBadRequest(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    if (error.code() != Errc::kBadRequest) Broken(std::string("rejected with a non-400 error: ") + error.what());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::vector<boost::json::object> docs = meta_db::fuzz::FilterDocuments();
  const auto json = meta_db::fuzz::JsonOf(meta_db::fuzz::Bytes(data, size));
  if (!json) return 0;
  ExpectOnlyBadRequest([&] {
    const auto filter = meta_db::query::ParseFilter(*json);
    for (const auto& doc : docs) meta_db::query::Matches(*filter, doc);
  });
  if (!json->is_object()) return 0;
  ExpectOnlyBadRequest([&] {
    const meta_db::query::Query q = meta_db::query::ParseQueryRequest(json->as_object());
    std::vector<boost::json::object> found;
    for (const auto& doc : docs) {
      if (q.filter == nullptr || meta_db::query::Matches(*q.filter, doc)) found.push_back(doc);
    }
    std::stable_sort(found.begin(), found.end(), [&](const auto& a, const auto& b) {
      return meta_db::query::CompareDocuments(a, b, q.sort) < 0;
    });
    if (q.projection) {
      for (const auto& doc : found) meta_db::query::Project(doc, *q.projection);
    }
  });
  return 0;
}
