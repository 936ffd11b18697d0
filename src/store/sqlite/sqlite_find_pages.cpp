// ScanPages on the SQLite store: one statement in _id order streamed a page at a time (when SQLite must sort, it sorts
// ids only and reads each row by rowid), reading promoted columns alone when they hold every wanted field, else only
// the wanted members of each stored text (FieldPicker).
#include "common/error.hpp"
#include "store/sqlite/sqlite_columns.hpp"
#include "store/sqlite/sqlite_find.hpp"
#include "store/sqlite/sqlite_find_fields.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/string.hpp>

#include <optional>
#include <set>

namespace meta_db::sqlite {

namespace {

// A wanted field read from a generated column (value, and its JSON type in "<column>_t").
struct ColumnField {
  std::string path;
  std::string column;
};

// The columns holding every wanted field, when they all do: _id and top-level promoted fields. (A dotted promoted
// path is left to the stored text: its column cannot tell "missing" from "behind an array", which Project reads.)
std::optional<std::vector<ColumnField>> ColumnsFor(Kind kind, const std::vector<std::string>& fields) {
  std::vector<ColumnField> columns;
  for (const std::string& path : fields) {
    if (path == "_id") continue;  // always read, from `id`
    const IndexedField* field = FindIndexedField(kind, path);
    if (field == nullptr || path.find('.') != std::string::npos) return std::nullopt;
    columns.push_back({path, ColumnName(*field)});
  }
  return columns;
}

// The columns every scan row has, whether read by the scan itself or by rowid after a sort: rowid, id, then the wanted
// fields' columns (value, type) or the stored text and its re-check flag.
std::string SelectList(const FilterPlan& plan, const std::optional<std::vector<ColumnField>>& columns) {
  std::string select = "rowid, id";
  if (columns) {
    for (const ColumnField& c : *columns) select += ", " + c.column + ", " + c.column + "_t";
  } else {
    select += ", doc, " + plan.recheck;
  }
  return select;
}

// Whether SQLite answers `sql` by sorting its rows (a condition answered by index sets is read in rowid order, then
// sorted by id) rather than by reading the id index in order.
bool SortsRows(Database& db, const std::string& sql) {
  auto plan = db.Prepare("EXPLAIN QUERY PLAN " + sql);
  while (plan->Step()) {
    if (plan->Text(3).find("TEMP B-TREE") != std::string_view::npos) return true;
  }
  return false;
}

// A row read from columns; nullopt when one of its values is of a type a column holds only as SQL text or a rounded
// number (a real, an array, an object), which the stored text then answers.
std::optional<Document> FromColumns(const Statement& st, const std::vector<ColumnField>& columns,
                                    const boost::json::storage_ptr& storage) {
  Document doc(storage);
  doc.reserve(columns.size() + 1);
  doc["_id"] = boost::json::string(st.Text(1), storage);
  int at = 2;
  for (const ColumnField& c : columns) {
    const int value = at++;
    const int type = at++;
    if (st.IsNull(type)) continue;  // missing
    const std::string_view kind = st.Text(type);
    if (kind == "text") {
      doc[c.path] = boost::json::string(st.Text(value), storage);
    } else if (kind == "integer") {
      doc[c.path] = st.Int(value);
    } else if (kind == "true" || kind == "false") {
      doc[c.path] = kind == "true";
    } else if (kind == "null") {
      doc[c.path] = nullptr;
    } else {
      return std::nullopt;
    }
  }
  return doc;
}

}  // namespace

void SqliteSession::ScanPages(Kind kind, const ScanQuery& scan, const ScanVisitor& visit) {
  if (scan.page < 1 || scan.page > kMaxScanPage) {
    throw Error(Errc::kBadRequest, "a scan page holds 1 to " + std::to_string(kMaxScanPage) + " documents");
  }
  const FilterPlan plan = PlanFilter(db_, kind, scan.filter.get(), scan.text);
  std::optional<std::vector<ColumnField>> columns;
  if (scan.fields && plan.exact) columns = ColumnsFor(kind, *scan.fields);
  std::optional<FieldPicker> picker;
  if (scan.fields) picker.emplace(*scan.fields);
  const int after_index = static_cast<int>(plan.params.size()) + 1;
  const std::string table(CollectionName(kind));
  const std::string select = SelectList(plan, columns);
  const std::string condition = plan.where + " AND id > ?" + std::to_string(after_index);
  std::string sql = "SELECT " + select + " FROM " + table + " WHERE " + condition + " ORDER BY id";
  // When SQLite would sort, it sorts the ids alone and each row is then read by its rowid: a sort that carried the
  // documents would hold every match's text in memory at once.
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> row_owned;
  std::optional<Statement> by_rowid;
  if (SortsRows(db_, sql)) {
    sql = "SELECT rowid, id FROM " + table + " WHERE " + condition + " ORDER BY id";
    row_owned = db_.PrepareOnce("SELECT " + select + " FROM " + table + " WHERE rowid = ?" + std::to_string(after_index));
    by_rowid.emplace(db_.raw(), row_owned.get());
    if (select.find('?') != std::string::npos) BindAll(*by_rowid, plan.params);  // the re-check's values
  }
  const auto page_size = static_cast<std::size_t>(scan.page);

  // Decodes the current row into `page` (unless the matcher rejects it); projected rows take their memory from the
  // page's arena (`storage`), freed at once when the page's last document goes.
  const auto take = [&](Statement& st, std::vector<Document>& page, const boost::json::storage_ptr& storage) {
    if (columns) {
      if (auto doc = FromColumns(st, *columns, storage)) {
        page.push_back(std::move(*doc));
        return;
      }
      auto text = db_.Prepare("SELECT doc FROM " + table + " WHERE rowid = ?");
      text->Bind(1, st.Int(0));
      if (text->Step()) page.push_back(picker->Pick(text->Text(0), storage));
      return;
    }
    const std::string_view text = st.Text(2);
    if (st.Int(3) != 0) {  // only uncertain rows are decoded whole and matched
      Document doc = ParseStoredDocument(text);
      if (!query::Matches(*scan.filter, doc)) return;
      page.push_back(picker ? query::Project(doc, query::Projection{true, *scan.fields}) : std::move(doc));
      return;
    }
    page.push_back(picker ? picker->Pick(text, storage) : ParseStoredDocument(text));
  };

  std::string after = scan.after ? scan.after->ToHex() : std::string();
  // The connection's cached statement, unless a scan of the same text is running (a visitor's nested scan): a
  // filter of thousands of values costs more to prepare than to run.
  const bool nested = !scanning_.insert(sql).second;
  struct Release {
    std::set<std::string>& scanning;
    const std::string& sql;
    bool nested;
    ~Release() {
      if (!nested) scanning.erase(sql);
    }
  } release{scanning_, sql, nested};
  for (;;) {
    // One statement for the whole pass, so what the condition costs to set up (an IN list, an index intersection)
    // is paid once. Started again after the last row seen when a page runs out of time.
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> owned;
    std::optional<ScopedStatement> cached;
    if (nested) {
      owned = db_.PrepareOnce(sql);
    } else {
      cached.emplace(*db_.Prepare(sql));  // the temporary handle resets the fresh statement; ours at the end
    }
    Statement own_statement(db_.raw(), owned.get());
    Statement& st = nested ? own_statement : **cached;
    BindAll(st, plan.params);
    st.Bind(after_index, std::string_view(after));
    bool rows_left = true;
    bool out_of_time = false;
    std::size_t seen = 0;  // rows stepped since this statement started
    while (rows_left && !out_of_time) {
      std::vector<Document> page;
      page.reserve(page_size);
      const boost::json::storage_ptr storage =
          scan.fields ? boost::json::make_shared_resource<boost::json::monotonic_resource>() : boost::json::storage_ptr();
      {
        DeadlineGuard guard(db_, std::chrono::steady_clock::now() + query_budget_);
        try {
          while (page.size() < page_size) {
            if (!st.Step()) {
              rows_left = false;
              break;
            }
            ++seen;
            if (by_rowid) {
              sqlite3_reset(by_rowid->raw());
              by_rowid->Bind(after_index, st.Int(0));
              if (by_rowid->Step()) take(*by_rowid, page, storage);
            } else {
              take(st, page, storage);
            }
            after.assign(st.Text(1));
          }
        } catch (const Error& error) {
          // A page that saw no row in its budget would see none when asked again either.
          if (error.code() != Errc::kTimeout || seen == 0) throw;
          out_of_time = true;
        }
      }
      if (!page.empty() && !visit(page)) return;
    }
    if (!out_of_time) return;
  }
}

}  // namespace meta_db::sqlite
