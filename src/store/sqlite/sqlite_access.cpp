// API tokens and the audit log on SQLite: two plain tables (sqlite_schema.cpp), every value bound.
#include "store/sqlite/sqlite_session.hpp"

#include "common/error.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace meta_db::sqlite {

namespace {

constexpr const char* kSelectToken =
    "SELECT token_id, researcher, label, salt, hash, created_at, revoked_at FROM api_tokens";

TokenRecord TokenRow(const Statement& row) {
  return {.token_id = std::string(row.Text(0)),
          .researcher = std::string(row.Text(1)),
          .label = std::string(row.Text(2)),
          .salt = std::string(row.Text(3)),
          .hash = std::string(row.Text(4)),
          .created_at = std::string(row.Text(5)),
          .revoked_at = std::string(row.Text(6))};
}

std::vector<std::string> IdsOf(std::string_view text) {
  std::vector<std::string> ids;
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array()) return ids;
  for (const auto& item : value.as_array()) {
    if (item.is_string()) ids.emplace_back(item.as_string());
  }
  return ids;
}

// " WHERE ..." for the query's filters, and their values in binding order.
std::string AuditWhere(const AuditQuery& query, std::vector<std::string>& values) {
  std::string where;
  auto add = [&](const std::string& condition, const std::string& value) {
    where += (where.empty() ? " WHERE " : " AND ") + condition;
    values.push_back(value);
  };
  if (!query.actor.empty()) add("actor = ?", query.actor);
  if (!query.researcher_id.empty()) add("researcher_id = ?", query.researcher_id);
  if (!query.token_id.empty()) add("token_id = ?", query.token_id);
  if (!query.action.empty()) add("action = ?", query.action);
  if (!query.kind.empty()) add("kind = ?", query.kind);
  if (!query.method.empty()) add("method = ?", query.method);
  // instr, not LIKE: a prefix with % or _ in it means those characters.
  if (!query.path_prefix.empty()) add("instr(path, ?) = 1", query.path_prefix);
  if (query.status) add("status = CAST(? AS INTEGER)", std::to_string(*query.status));
  if (!query.since.empty()) add("at >= ?", query.since);
  if (!query.until.empty()) add("at < ?", query.until);
  return where;
}

}  // namespace

void SqliteSession::PutToken(const TokenRecord& token) {
  auto statement = db_.Prepare(
      "INSERT INTO api_tokens (token_id, researcher, label, salt, hash, created_at, revoked_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)");
  statement->Bind(1, token.token_id)
      .Bind(2, token.researcher)
      .Bind(3, token.label)
      .Bind(4, token.salt)
      .Bind(5, token.hash)
      .Bind(6, token.created_at)
      .Bind(7, token.revoked_at)
      .Run();
}

std::optional<TokenRecord> SqliteSession::GetToken(std::string_view token_id) {
  auto statement = db_.Prepare(std::string(kSelectToken) + " WHERE token_id = ?");
  statement->Bind(1, token_id);
  if (!statement->Step()) return std::nullopt;
  return TokenRow(*statement);
}

std::vector<TokenRecord> SqliteSession::Tokens(std::string_view researcher) {
  auto statement = researcher.empty()
                       ? db_.Prepare(std::string(kSelectToken) + " ORDER BY created_at, token_id")
                       : db_.Prepare(std::string(kSelectToken) + " WHERE researcher = ? ORDER BY created_at, token_id");
  if (!researcher.empty()) statement->Bind(1, researcher);
  std::vector<TokenRecord> tokens;
  while (statement->Step()) tokens.push_back(TokenRow(*statement));
  return tokens;
}

bool SqliteSession::RevokeToken(std::string_view token_id, std::string_view when) {
  auto statement = db_.Prepare(
      "UPDATE api_tokens SET revoked_at = CASE revoked_at WHEN '' THEN ? ELSE revoked_at END WHERE token_id = ?");
  statement->Bind(1, when).Bind(2, token_id).Run();
  return db_.Changes() > 0;
}

void SqliteSession::AppendAudit(const AuditRecord& record) {
  boost::json::array ids;
  for (const std::string& id : record.document_ids) ids.emplace_back(id);
  auto statement = db_.Prepare(
      "INSERT INTO audit_log (id, at, actor, researcher_id, token_id, action, method, path, status, documents, "
      "document_ids, client, detail, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  statement->Bind(1, record.id)
      .Bind(2, record.at)
      .Bind(3, record.actor)
      .Bind(4, record.researcher_id)
      .Bind(5, record.token_id)
      .Bind(6, record.action)
      .Bind(7, record.method)
      .Bind(8, record.path)
      .Bind(9, static_cast<std::int64_t>(record.status))
      .Bind(10, record.documents)
      .Bind(11, boost::json::serialize(ids))
      .Bind(12, record.client)
      .Bind(13, record.detail)
      .Bind(14, record.kind)
      .Run();
}

AuditPage SqliteSession::FindAudit(const AuditQuery& query) {
  std::vector<std::string> values;
  const std::string where = AuditWhere(query, values);
  AuditPage page;
  {
    auto count = db_.Prepare("SELECT count(*) FROM audit_log" + where);
    for (std::size_t i = 0; i < values.size(); ++i) count->Bind(static_cast<int>(i + 1), values[i]);
    count->Step();
    page.total = count->Int(0);
  }
  auto statement = db_.Prepare(
      "SELECT id, at, actor, researcher_id, token_id, action, method, path, status, documents, document_ids, client, "
      "detail, kind FROM audit_log" + where + " ORDER BY at DESC, id DESC LIMIT ? OFFSET ?");
  const int count = static_cast<int>(values.size());
  for (int i = 0; i < count; ++i) statement->Bind(i + 1, values[static_cast<std::size_t>(i)]);
  statement->Bind(count + 1, query.limit).Bind(count + 2, query.skip);
  while (statement->Step()) {
    page.records.push_back({.id = std::string(statement->Text(0)),
                            .at = std::string(statement->Text(1)),
                            .actor = std::string(statement->Text(2)),
                            .researcher_id = std::string(statement->Text(3)),
                            .token_id = std::string(statement->Text(4)),
                            .action = std::string(statement->Text(5)),
                            .kind = std::string(statement->Text(13)),
                            .method = std::string(statement->Text(6)),
                            .path = std::string(statement->Text(7)),
                            .status = static_cast<int>(statement->Int(8)),
                            .document_ids = IdsOf(statement->Text(10)),
                            .documents = statement->Int(9),
                            .client = std::string(statement->Text(11)),
                            .detail = std::string(statement->Text(12))});
  }
  return page;
}

}  // namespace meta_db::sqlite
