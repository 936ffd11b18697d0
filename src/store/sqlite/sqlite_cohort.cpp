// FindCohort on the SQLite store: each level's filter compiled to a condition on its own table, the levels joined
// by IN/EXISTS on the indexed parent columns (series.study_id, instances.series_id). The matching series are read
// once (staged): their count, their studies and their instances' count come from that one pass, and the other
// statements take them as bound id lists instead of evaluating the series condition again (docs/performance.md).
// A level whose translation is inexact is first resolved to its exact rowids with the reference matcher.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "store/sqlite/sql_compile.hpp"
#include "store/sqlite/sqlite_find.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <optional>
#include <set>

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

  // The series satisfying `condition`, with what the counts and the other levels need of them.
  struct StagedSeries {
    boost::json::array rowids, ids;   // JSON lists bound to the later statements
    std::set<std::string> study_ids;  // distinct
    std::int64_t instances = 0;       // sum of num_instances
  };
  StagedSeries Series(const std::string& condition) {
    auto statement = db_.Prepare("SELECT rowid, id, study_id, num_instances FROM series WHERE " + condition);
    Statement& st = *statement;
    BindAll(st, params_);
    StagedSeries staged;
    std::size_t rows = 0;
    while (st.Step()) {
      if (++rows % 256 == 0 && std::chrono::steady_clock::now() > deadline_) {
        throw Error(Errc::kTimeout, "query exceeded its time budget and was interrupted");
      }
      staged.rowids.push_back(st.Int(0));
      staged.ids.emplace_back(st.Text(1));
      if (!st.IsNull(2)) staged.study_ids.emplace(st.Text(2));
      staged.instances += st.Int(3);
    }
    return staged;
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

bool AllNumbers(const boost::json::value& value) {
  if (!value.is_array()) return value.is_number();
  const auto& items = value.as_array();
  return !items.empty() && std::all_of(items.begin(), items.end(), [](const auto& v) { return v.is_number(); });
}

// A numeric condition on instance_number (the second column of the instances' (series_id, instance_number) index) at
// the top of the instance filter: only numbers in its range or arrays (JSON text, from '[' up to '\') can satisfy
// it. The instance count is then the sum over those two disjoint index ranges, each still under the exact
// condition, which seek within each matching series instead of visiting every one of its instances.
std::optional<std::string> InstanceNumberRange(const query::Filter* filter, CohortSql& sql) {
  if (filter == nullptr) return std::nullopt;
  std::vector<const query::Filter*> leaves{filter};
  if (filter->op == query::Op::kAnd) {
    leaves.clear();
    for (const query::Filter& child : filter->children) leaves.push_back(&child);
  }
  for (const query::Filter* leaf : leaves) {
    if (leaf->path != "instance_number" || !AllNumbers(leaf->value)) continue;
    const auto number = [&](const boost::json::value& v) {
      return v.is_int64() ? sql.Param(v.as_int64()) : sql.Param(v.to_number<double>());
    };
    switch (leaf->op) {
      case query::Op::kEq:
        if (!leaf->value.is_array()) return "instance_number = " + number(leaf->value);
        break;
      case query::Op::kIn: {
        std::string list;
        for (const auto& v : leaf->value.as_array()) list += (list.empty() ? "" : ", ") + number(v);
        return "instance_number IN (" + list + ")";
      }
      // Numbers sort before every text in SQLite: '' bounds the range above the numbers.
      case query::Op::kGt: return "instance_number > " + number(leaf->value) + " AND instance_number < ''";
      case query::Op::kGte: return "instance_number >= " + number(leaf->value) + " AND instance_number < ''";
      case query::Op::kLt: return "instance_number < " + number(leaf->value);
      case query::Op::kLte: return "instance_number <= " + number(leaf->value);
      default: break;
    }
  }
  return std::nullopt;
}

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
    // One pass over the matching series; the rest reads these lists, never the series condition again.
    const auto staged = sql.Series(series_condition);
    boost::json::array study_ids;
    for (const std::string& id : staged.study_ids) study_ids.emplace_back(id);
    const std::string study_condition =
        "id IN (SELECT value FROM json_each(" + sql.Param(boost::json::serialize(study_ids)) + "))";
    const std::string series_ids = sql.Param(boost::json::serialize(staged.ids));
    const std::string instance_condition =
        And({instances, "series_id IN (SELECT value FROM json_each(" + series_ids + "))"});
    level_condition =
        cohort.level == Kind::kStudies ? study_condition
        : cohort.level == Kind::kSeries
            ? "rowid IN (SELECT value FROM json_each(" + sql.Param(boost::json::serialize(staged.rowids)) + "))"
            : instance_condition;
    if (cohort.count) {
      const auto study_counts = sql.Row("SELECT count(*), count(DISTINCT patient_id) FROM studies WHERE " +
                                            study_condition, 2);
      result.counts.studies = study_counts[0];
      result.counts.patients = study_counts[1];
      result.counts.series = static_cast<std::int64_t>(staged.rowids.size());
      // Without an instance filter every instance of a matching series counts: its series' num_instances, which the
      // catalogue rewrites in the same transaction as the series' instances (docs/ingest.md; `meta_db check`
      // verifies it), instead of visiting every instance row.
      const std::string count = "SELECT count(*) FROM instances WHERE " + instance_condition;
      if (instances.empty()) {
        result.counts.instances = staged.instances;
      } else if (const auto range = InstanceNumberRange(cohort.instances.get(), sql)) {
        result.counts.instances = sql.Row(count + " AND " + *range, 1)[0] +
                                  sql.Row(count + " AND instance_number >= '[' AND instance_number < '\\'", 1)[0];
      } else {
        result.counts.instances = sql.Row(count, 1)[0];
      }
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
