// Fuzz target: the SQLite translation (store/sqlite/sql_compile.cpp), checked differentially: a query the parser
// accepts is compiled for every collection, then run by a real SQLite store over fixed hostile documents, and must
// return exactly the documents, order and total of the in-memory reference matcher (MongoDB's semantics).
#include "case_runner.hpp"
#include "filter_documents.hpp"
#include "fuzz_support.hpp"

#include "model/kind.hpp"
#include "store/sqlite/sql_compile.hpp"
#include "store/store.hpp"

#include <boost/json/serialize.hpp>

namespace {

namespace json = boost::json;
using meta_db::fuzz::Broken;

// Queries in the tests' shape: no paging limit so the whole answer is compared.
std::optional<meta_db::query::Query> QueryOf(const json::value& value) {
  try {
    const auto* body = value.if_object();
    if (body != nullptr && (body->contains("filter") || body->contains("query") || body->contains("sort") ||
                            body->contains("q"))) {
      return meta_db::query::ParseQueryRequest(value.as_object());
    }
    meta_db::query::Query q;
    q.filter = meta_db::query::ParseFilter(value);
    return q;
  } catch (const meta_db::Error& error) {
    if (error.code() != meta_db::Errc::kBadRequest) Broken(std::string("parse: non-400 error: ") + error.what());
    return std::nullopt;
  }
}

struct Catalogue {
  meta_db::fuzz::ScratchDir dir;
  std::vector<json::object> docs = meta_db::fuzz::FilterDocuments();
  std::unique_ptr<meta_db::Store> store = [this] {
    auto s = meta_db::OpenStore("sqlite:" + (dir.path() / "filter.sqlite").string());
    s->Write([&](meta_db::Session& session) {
      for (const auto& doc : docs) session.Insert(meta_db::Kind::kSeries, doc);
    });
    return s;
  }();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Catalogue catalogue;
  const auto value = meta_db::fuzz::JsonOf(meta_db::fuzz::Bytes(data, size));
  if (!value) return 0;
  std::optional<meta_db::query::Query> q = QueryOf(*value);
  if (!q) return 0;
  for (const meta_db::Kind kind : meta_db::kAllKinds) {
    const meta_db::sqlite::SqlWhere where = meta_db::sqlite::CompileWhere(kind, q->filter.get());
    if (where.params.size() > meta_db::sqlite::kMaxSqlParams && where.exact) Broken("too many parameters, exact");
    if (meta_db::sqlite::CompileOrderBy(kind, q->sort)) {
      std::vector<meta_db::sqlite::SqlValue> params;
      meta_db::sqlite::SortHazards(kind, q->sort, params);
    }
  }
  if (!q->text.empty()) return 0;  // free text is the store's FTS index; the reference matcher has none
  q->projection.reset();
  meta_db::query::Query unpaged = *q;
  unpaged.skip = 0;
  unpaged.limit = meta_db::query::kMaxLimit;
  const auto expected = meta_db::query::testing::ReferenceFind(catalogue.docs, *q);
  const auto expected_all = meta_db::query::testing::ReferenceFind(catalogue.docs, unpaged);
  meta_db::FindResult found;
  try {
    catalogue.store->Read([&](meta_db::Session& s) { found = s.Find(meta_db::Kind::kSeries, *q); });
  } catch (const meta_db::Error& error) {
    if (error.code() == meta_db::Errc::kBadRequest) return 0;  // e.g. a query the store's limits refuse
    Broken(std::string("SQLite store failed: ") + error.what());
  }
  if (meta_db::query::testing::Ids(found.results) != meta_db::query::testing::Ids(expected)) {
    Broken("SQLite and the reference matcher disagree on " + json::serialize(*value));
  }
  if (q->count_total && found.total != static_cast<std::int64_t>(expected_all.size())) {
    Broken("SQLite's total differs from the reference matcher's on " + json::serialize(*value));
  }
  return 0;
}
