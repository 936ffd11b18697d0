// Find on the SQLite store: compile the filter (query/sql_compile), run it with bound values under the
// session's time budget, re-check inexact candidates with the reference matcher, sort and page.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "store/sqlite/sql_compile.hpp"
#include "store/sqlite/sqlite_find.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <unordered_map>
#include <iterator>
#include <variant>

namespace meta_db::sqlite {

namespace {

// In-memory sorts hold every candidate; beyond this the caller must narrow the filter or sort on an
// indexed field (which SQL orders).
constexpr std::size_t kMaxSortCandidates = 200000;

void DeleteRegex(void* p) { std::unique_ptr<query::Regex> owned(static_cast<query::Regex*>(p)); }

// meta_db_regex(pattern, options, value): $regex in SQL, evaluated by the same engine as the matcher.
// The compiled pattern is cached per statement on argument 0 (constant across rows).
void RegexSqlFunction(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[2]) != SQLITE_TEXT) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[2]));
  const std::string_view value(text, static_cast<std::size_t>(sqlite3_value_bytes(argv[2])));
  if (const auto* cached = static_cast<const query::Regex*>(sqlite3_get_auxdata(ctx, 0))) {
    sqlite3_result_int(ctx, cached->Search(value) ? 1 : 0);
    return;
  }
  try {
    const auto* pattern = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    const auto* options = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
    auto re = std::make_unique<query::Regex>(query::Regex::Compile(pattern ? pattern : "", options ? options : ""));
    sqlite3_result_int(ctx, re->Search(value) ? 1 : 0);
    sqlite3_set_auxdata(ctx, 0, re.release(), &DeleteRegex);  // SQLite owns it from here (may free at once)
  } catch (const std::exception& e) {
    sqlite3_result_error(ctx, e.what(), -1);
  }
}

}  // namespace

// Registers meta_db_regex on the connection once (re-registering would expire cached statements).
void EnsureRegexFunction(sqlite3* db) {
  sqlite3_stmt* probe = nullptr;
  const int rc = sqlite3_prepare_v2(db, "SELECT meta_db_regex('', '', '')", -1, &probe, nullptr);
  sqlite3_finalize(probe);
  if (rc == SQLITE_OK) return;
  const int created = sqlite3_create_function_v2(db, kRegexSqlFunction, 3,
                                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                                 &RegexSqlFunction, nullptr, nullptr, nullptr);
  if (created != SQLITE_OK) ThrowSqlite(db, created, "register meta_db_regex");
}

void BindAll(Statement& st, const std::vector<SqlValue>& params) {
  // A value whose placeholder the translation dropped (e.g. the path of a leaf compiled to "0") is skipped.
  const int used = sqlite3_bind_parameter_count(st.raw());
  for (std::size_t i = 0; i < params.size() && static_cast<int>(i) < used; ++i) {
    const int index = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) st.BindNull(index);
          else if constexpr (std::is_same_v<T, std::string>) st.Bind(index, std::string_view(v));
          else st.Bind(index, v);
        },
        params[i]);
  }
}

namespace {

struct Plan : FilterPlan {
  std::string table;
  std::optional<std::string> order;  // SQL ORDER BY when SQL orders exactly like MongoDB
};

class Finder {
 public:
  Finder(Database& db, std::chrono::steady_clock::time_point deadline) : db_(db), deadline_(deadline), guard_(db, deadline_) {}

  // `scope` (exact, placeholders from ?1) is AND-ed to the condition; q.filter and q.text must then be empty.
  FindResult Run(Kind kind, const query::Query& q, const SqlScope* scope = nullptr);

 private:
  Plan MakePlan(Kind kind, const query::Query& q, const SqlScope* scope);
  bool Exists(const std::string& sql, const std::vector<SqlValue>& params);
  FindResult Exact(const Plan& plan, const query::Query& q);
  FindResult FromIntersection(const Plan& plan, const query::Query& q);
  std::vector<std::int64_t> RowidSet(const std::string& select, const std::vector<SqlValue>& params);
  std::vector<std::int64_t> Intersection(const Plan& plan);
  FindResult Streamed(const Plan& plan, const query::Query& q);
  FindResult SortedInMemory(const Plan& plan, const query::Query& q);
  void CheckDeadline(std::size_t rows) const {
    if (rows % 256 == 0 && std::chrono::steady_clock::now() > deadline_) {
      throw Error(Errc::kTimeout, "query exceeded its time budget and was interrupted");
    }
  }

  bool SortMayMisorder(const Plan& plan, Kind kind, const query::Query& q);

  Database& db_;
  std::chrono::steady_clock::time_point deadline_;
  DeadlineGuard guard_;
};

Plan Finder::MakePlan(Kind kind, const query::Query& q, const SqlScope* scope) {
  Plan plan;
  if (scope != nullptr) {
    if (q.filter || !q.text.empty()) throw Error(Errc::kInternal, "a scoped find takes no filter of its own");
    plan.where = "(" + scope->sql + ")";
    plan.params = scope->params;
    if (plan.where.find(kRegexSqlFunction) != std::string::npos) EnsureRegexFunction(db_.raw());
  } else {
    static_cast<FilterPlan&>(plan) = PlanFilter(db_, kind, q.filter.get(), q.text);
  }
  plan.table = std::string(CollectionName(kind));
  plan.order = q.sort.empty() ? std::optional<std::string>("rowid ASC") : CompileOrderBy(kind, q.sort);
  if (plan.order && !q.sort.empty() && SortMayMisorder(plan, kind, q)) {
    plan.order.reset();  // booleans/arrays in a sort column: SQL would order them unlike MongoDB
  }
  return plan;
}

// Whether a row matching the filter holds a sort value SQL orders unlike MongoDB (a boolean stored as 1/0, an
// array or object stored as JSON text). Each probe is an index range on the sort column decided by the stored
// "<column>_t" JSON type, so no document is parsed.
bool Finder::SortMayMisorder(const Plan& plan, Kind kind, const query::Query& q) {
  std::vector<SqlValue> params = plan.params;
  std::string any = "SELECT 0";
  for (const std::string& term : SortHazards(kind, q.sort, params)) {
    any += " OR EXISTS (SELECT 1 FROM " + plan.table + " WHERE " + plan.where + " AND " + term + ")";
  }
  return Exists(any, params);
}

bool Finder::Exists(const std::string& sql, const std::vector<SqlValue>& params) {
  auto raw = db_.Prepare(sql);
  Statement& st = *raw;
  BindAll(st, params);
  return st.Step() && st.Int(0) != 0;
}

std::vector<std::int64_t> Finder::RowidSet(const std::string& select, const std::vector<SqlValue>& params) {
  auto raw = db_.Prepare("SELECT * FROM (" + select + ")");
  Statement& st = *raw;
  BindAll(st, params);
  std::vector<std::int64_t> ids;
  while (st.Step()) ids.push_back(st.Int(0));
  std::sort(ids.begin(), ids.end());
  return ids;
}

// The exact answer as the intersection of index-only rowid sets, in natural (rowid) order.
std::vector<std::int64_t> Finder::Intersection(const Plan& plan) {
  std::vector<std::int64_t> result = RowidSet(plan.rowid_sets.front(), plan.params);
  for (std::size_t i = 1; i < plan.rowid_sets.size() && !result.empty(); ++i) {
    const std::vector<std::int64_t> next = RowidSet(plan.rowid_sets[i], plan.params);
    std::vector<std::int64_t> both;
    std::set_intersection(result.begin(), result.end(), next.begin(), next.end(), std::back_inserter(both));
    result.swap(both);
  }
  return result;
}

// Promoted-field conditions, natural order: intersect their index sets once (in memory, far cheaper
// than SQLite's INTERSECT temp tables), then read only the page's documents.
// Appends one stored document to the page, as text when the caller takes raw documents.
void Emit(FindResult& result, std::string_view text, const query::Query& q) {
  if (q.as_json_text && !q.projection) {
    result.json_texts.emplace_back(text);
  } else {
    result.results.push_back(ParseStoredDocument(text));
  }
}

// The same for a text the caller already owns (no second copy of a large page).
void Emit(FindResult& result, std::string&& text, const query::Query& q) {
  if (q.as_json_text && !q.projection) {
    result.json_texts.push_back(std::move(text));
  } else {
    result.results.push_back(ParseStoredDocument(text));
  }
}

FindResult Finder::FromIntersection(const Plan& plan, const query::Query& q) {
  const std::vector<std::int64_t> ids = Intersection(plan);
  FindResult result;
  result.total = q.count_total ? static_cast<std::int64_t>(ids.size()) : -1;
  boost::json::array page;
  const auto size = static_cast<std::int64_t>(ids.size());
  for (std::int64_t i = q.skip; i < size && i - q.skip < q.limit; ++i) page.push_back(ids[static_cast<std::size_t>(i)]);
  if (page.empty()) return result;
  auto raw = db_.Prepare("SELECT doc FROM " + plan.table +
                             " WHERE rowid IN (SELECT value FROM json_each(?1)) ORDER BY rowid");
  Statement& st = *raw;
  const std::string page_json = boost::json::serialize(page);
  st.Bind(1, std::string_view(page_json));
  while (st.Step()) Emit(result, st.Text(0), q);
  return result;
}

FindResult Finder::Exact(const Plan& plan, const query::Query& q) {
  if (q.sort.empty() && !plan.rowid_sets.empty()) return FromIntersection(plan, q);
  FindResult result;
  std::vector<SqlValue> params = plan.params;
  const std::string limit = AddParam(params, q.limit);
  const std::string offset = AddParam(params, q.skip);
  // The page's rowids come from the indexes alone (ordered index scan, no JSON parsing); then only the
  // page's documents are read, by rowid, and put back in the index order here — an ORDER BY on the outer
  // query would make SQLite extract the sort columns from every document of the page again.
  auto ids_statement = db_.Prepare("SELECT rowid FROM " + plan.table + " WHERE " + plan.where + " ORDER BY " +
                                       *plan.order + " LIMIT " + limit + " OFFSET " + offset);
  Statement& ids = *ids_statement;
  BindAll(ids, params);
  boost::json::array page;
  std::unordered_map<std::int64_t, std::size_t> position;
  while (ids.Step()) {
    position.emplace(ids.Int(0), page.size());
    page.push_back(ids.Int(0));
  }
  if (!page.empty()) {
    auto docs_statement = db_.Prepare("SELECT rowid, doc FROM " + plan.table +
                                          " WHERE rowid IN (SELECT value FROM json_each(?1))");
    Statement& docs = *docs_statement;
    const std::string page_json = boost::json::serialize(page);
    docs.Bind(1, std::string_view(page_json));
    std::vector<std::pair<std::size_t, std::string>> texts;
    texts.reserve(page.size());
    while (docs.Step()) texts.emplace_back(position.at(docs.Int(0)), std::string(docs.Text(1)));
    std::sort(texts.begin(), texts.end());
    for (auto& [index, text] : texts) Emit(result, std::move(text), q);
  }
  result.total = -1;
  if (q.count_total) {
    if (plan.rowid_sets.size() > 1) {
      result.total = static_cast<std::int64_t>(Intersection(plan).size());
    } else {
      auto count = db_.Prepare(plan.rowid_sets.empty() ? "SELECT count(*) FROM " + plan.table + " WHERE " + plan.where
                                                           : "SELECT count(*) FROM (" + plan.rowid_sets.front() + ")");
      Statement& cs = *count;
      BindAll(cs, plan.params);
      cs.Step();
      result.total = cs.Int(0);
    }
  }
  return result;
}

// SQL orders a superset; the matcher filters while paging and counting.
FindResult Finder::Streamed(const Plan& plan, const query::Query& q) {
  FindResult result;
  auto raw = db_.Prepare("SELECT doc, " + plan.recheck + " FROM " + plan.table + " WHERE " + plan.where +
                             " ORDER BY " + *plan.order);
  Statement& st = *raw;
  BindAll(st, plan.params);
  std::int64_t matched = 0;
  std::size_t rows = 0;
  while (st.Step()) {
    CheckDeadline(++rows);
    std::optional<Document> doc;
    if (st.Int(1) != 0) {  // only uncertain rows are parsed and matched; the others are counted as they are
      doc = ParseStoredDocument(st.Text(0));
      if (!query::Matches(*q.filter, *doc)) continue;
    }
    if (matched >= q.skip && matched - q.skip < q.limit) {
      if (doc && !(q.as_json_text && !q.projection)) {
        result.results.push_back(std::move(*doc));
      } else {
        Emit(result, st.Text(0), q);
      }
    }
    ++matched;
    if (!q.count_total && matched > q.skip && matched - q.skip >= q.limit) break;  // no overflow on huge skips
  }
  result.total = q.count_total ? matched : -1;
  return result;
}

FindResult Finder::SortedInMemory(const Plan& plan, const query::Query& q) {
  auto raw = db_.Prepare("SELECT doc, " + plan.recheck + " FROM " + plan.table + " WHERE " + plan.where +
                             " ORDER BY rowid");
  Statement& st = *raw;
  BindAll(st, plan.params);
  std::vector<Document> docs;
  std::size_t rows = 0;
  while (st.Step()) {
    CheckDeadline(++rows);
    Document doc = ParseStoredDocument(st.Text(0));
    if (st.Int(1) != 0 && !query::Matches(*q.filter, doc)) continue;
    if (docs.size() >= kMaxSortCandidates) {
      throw Error(Errc::kBadRequest,
                  "sorting more than " + std::to_string(kMaxSortCandidates) +
                      " matches on a non-indexed field; narrow the filter or sort on an indexed field",
                  boost::json::object{{"path", "sort"}});
    }
    docs.push_back(std::move(doc));
  }
  // Stable: ties keep natural (insertion) order, as the SQL path's "rowid ASC" tiebreak does.
  std::stable_sort(docs.begin(), docs.end(), [&q](const Document& a, const Document& b) {
    return query::CompareDocuments(a, b, q.sort) < 0;
  });
  FindResult result;
  result.total = q.count_total ? static_cast<std::int64_t>(docs.size()) : -1;
  const auto size = static_cast<std::int64_t>(docs.size());
  for (std::int64_t i = q.skip; i < size && i - q.skip < q.limit; ++i) {
    result.results.push_back(std::move(docs[static_cast<std::size_t>(i)]));
  }
  return result;
}

FindResult Finder::Run(Kind kind, const query::Query& q, const SqlScope* scope) {
  if (q.skip < 0 || q.limit < 0) throw Error(Errc::kBadRequest, "skip and limit must be non-negative");
  const Plan plan = MakePlan(kind, q, scope);
  FindResult result;
  if (plan.order && plan.exact) result = Exact(plan, q);
  else if (plan.order) result = Streamed(plan, q);
  else result = SortedInMemory(plan, q);
  if (q.projection) {
    for (Document& doc : result.results) doc = query::Project(doc, *q.projection);
  }
  if (q.as_json_text) {  // documents that had to be parsed (sorted in memory, projected) go out as text too
    for (const Document& doc : result.results) result.json_texts.push_back(boost::json::serialize(doc));
    result.results.clear();
  }
  return result;
}

}  // namespace

FilterPlan PlanFilter(Database& db, Kind kind, const query::Filter* filter, std::string_view text) {
  FilterPlan plan;
  SqlWhere where = CompileWhere(kind, filter);
  plan.params = std::move(where.params);
  plan.exact = where.exact;
  plan.recheck = "(" + where.recheck + ")";
  plan.where = "(" + where.sql + ")";
  plan.rowid_sets = std::move(where.rowid_sets);
  if (!text.empty()) {
    if (kind != Kind::kSeries) {
      throw Error(Errc::kBadRequest, "free text (q=) is only available on series", boost::json::object{{"path", "q"}});
    }
    const std::string match = FtsMatchExpression(text);
    if (!match.empty()) {
      const std::string fts = "SELECT rowid FROM series_fts WHERE series_fts MATCH " + AddParam(plan.params, match);
      plan.where += " AND rowid IN (" + fts + ")";
      if (!plan.rowid_sets.empty()) plan.rowid_sets.push_back(fts);
    }
  }
  if (plan.where.find(kRegexSqlFunction) != std::string::npos) EnsureRegexFunction(db.raw());
  return plan;
}

FindResult SqliteSession::Find(Kind kind, const query::Query& query) {
  return Finder(db_, std::chrono::steady_clock::now() + query_budget_).Run(kind, query);
}

FindResult FindScoped(Database& db, std::chrono::steady_clock::time_point deadline, Kind kind, const query::Query& q,
                      const SqlScope& scope) {
  return Finder(db, deadline).Run(kind, q, &scope);
}

}  // namespace meta_db::sqlite
