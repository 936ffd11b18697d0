// FindCohort on the SQLite store: each level's filter compiled to a condition on its own table, the levels joined
// by IN/EXISTS on the indexed parent columns (series.study_id, instances.series_id), counted and paged in SQL.
// A level whose translation is inexact is first resolved to its exact rowids with the reference matcher.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "store/sqlite/sql_compile.hpp"
#include "store/sqlite/sqlite_find.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

namespace meta_db::sqlite {

namespace {

class CohortSql {
 public:
  CohortSql(Database& db, std::chrono::steady_clock::time_point deadline) : db_(db), deadline_(deadline) {}

  // The exact condition of one level's own filter on its table ("" for none).
  std::string Level(Kind kind, const query::Filter* filter) {
    if (filter == nullptr) return "";
    SqlWhere where = CompileWhere(kind, filter, std::move(params_));
    params_ = std::move(where.params);
    if (where.sql.find(kRegexSqlFunction) != std::string::npos) EnsureRegexFunction(db_.raw());
    if (where.exact) return "(" + where.sql + ")";
    boost::json::array rowids;
    auto statement = db_.Prepare("SELECT rowid, doc, (" + where.recheck + ") FROM " +
                                 std::string(CollectionName(kind)) + " WHERE (" + where.sql + ")");
    Statement& st = *statement;
    BindAll(st, params_);
    std::size_t rows = 0;
    while (st.Step()) {
      if (++rows % 256 == 0 && std::chrono::steady_clock::now() > deadline_) {
        throw Error(Errc::kTimeout, "query exceeded its time budget and was interrupted");
      }
      if (st.Int(2) != 0 && !query::Matches(*filter, ParseStoredDocument(st.Text(1)))) continue;
      rowids.push_back(st.Int(0));
    }
    return "rowid IN (SELECT value FROM json_each(" + AddParam(params_, boost::json::serialize(rowids)) + "))";
  }

  std::string Param(SqlValue value) { return AddParam(params_, std::move(value)); }
  const std::vector<SqlValue>& params() const { return params_; }

  std::vector<std::int64_t> Row(const std::string& sql, int columns) {
    auto statement = db_.Prepare(sql);
    Statement& st = *statement;
    BindAll(st, params_);
    std::vector<std::int64_t> row(static_cast<std::size_t>(columns), 0);
    if (st.Step()) {
      for (int i = 0; i < columns; ++i) row[static_cast<std::size_t>(i)] = st.Int(i);
    }
    return row;
  }

  std::vector<ObjectId> Ids(const std::string& sql) {
    auto statement = db_.Prepare(sql);
    Statement& st = *statement;
    BindAll(st, params_);
    std::vector<ObjectId> ids;
    while (st.Step()) {
      if (auto id = ObjectId::Parse(st.Text(0))) ids.push_back(*id);
    }
    return ids;
  }

 private:
  Database& db_;
  std::chrono::steady_clock::time_point deadline_;
  std::vector<SqlValue> params_;
};

std::string And(const std::vector<std::string>& terms) {
  std::string out;
  for (const std::string& term : terms) {
    if (term.empty()) continue;
    out += (out.empty() ? "" : " AND ") + term;
  }
  return out.empty() ? "1" : out;
}

}  // namespace

CohortResult SqliteSession::FindCohort(const CohortQuery& cohort) {
  CheckCohortQuery(cohort);
  const auto deadline = std::chrono::steady_clock::now() + query_budget_;
  CohortResult result;
  std::string level_condition;
  CohortSql sql(db_, deadline);
  {
    DeadlineGuard guard(db_, deadline);
    const std::string studies = sql.Level(Kind::kStudies, cohort.studies.get());
    const std::string series = sql.Level(Kind::kSeries, cohort.series.get());
    const std::string instances = sql.Level(Kind::kInstances, cohort.instances.get());
    // Correlated on the indexed instances(series_id, ...): only the candidate series' instances are probed.
    const std::string has_instance =
        instances.empty() ? ""
                          : "EXISTS (SELECT 1 FROM instances WHERE instances.series_id = series.id AND " + instances + ")";
    const std::string series_own = And({series, has_instance});
    const std::string series_condition =
        And({series_own, studies.empty() ? "" : "study_id IN (SELECT id FROM studies WHERE " + studies + ")"});
    const std::string study_condition =
        And({studies, "id IN (SELECT study_id FROM series WHERE " + series_own + ")"});
    const std::string instance_condition =
        And({instances, "series_id IN (SELECT id FROM series WHERE " + series_condition + ")"});
    level_condition = cohort.level == Kind::kStudies  ? study_condition
                      : cohort.level == Kind::kSeries ? series_condition
                                                      : instance_condition;
    if (cohort.count) {
      const auto study_counts = sql.Row("SELECT count(*), count(DISTINCT patient_id) FROM studies WHERE " +
                                            study_condition, 2);
      result.counts.studies = study_counts[0];
      result.counts.patients = study_counts[1];
      result.counts.series = sql.Row("SELECT count(*) FROM series WHERE " + series_condition, 1)[0];
      result.counts.instances = sql.Row("SELECT count(*) FROM instances WHERE " + instance_condition, 1)[0];
    }
    if (cohort.ids) {
      const std::string table(CollectionName(cohort.level));
      std::string select = "SELECT id FROM " + table + " WHERE " + level_condition;
      if (cohort.ids->after) select += " AND id > " + sql.Param(cohort.ids->after->ToHex());
      select += " ORDER BY id LIMIT " + sql.Param(cohort.ids->limit);
      result.ids = sql.Ids(select);
      return result;
    }
  }
  query::Query page = cohort.page;
  page.filter.reset();
  page.text.clear();
  if (page.sort.empty()) page.sort.push_back({"_id", 1});  // the same order on every store
  if (cohort.count) page.count_total = false;              // the counts have it
  result.page = FindScoped(db_, deadline, cohort.level, page, SqlScope{level_condition, sql.params()});
  if (cohort.count) {
    result.page.total = cohort.level == Kind::kStudies  ? result.counts.studies
                        : cohort.level == Kind::kSeries ? result.counts.series
                                                        : result.counts.instances;
  }
  return result;
}

}  // namespace meta_db::sqlite
