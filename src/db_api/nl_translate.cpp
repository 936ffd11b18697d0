// POST /nl/translate: a plain-language question -> the /query or /cohort body it means (nl/), validated by the same
// parsers as those endpoints and counted by running it.
#include "db_api/api.hpp"
#include "db_api/listing.hpp"

#include "common/error.hpp"
#include "nl/nl.hpp"

#include <boost/json/array.hpp>

#include <algorithm>

namespace meta_db::db_api {

namespace {

constexpr std::size_t kVocabularyValues = 500;  // distinct values per field offered to the grammar

// The catalogue's values of the grammar's fields, from the /fields census of series, cached like /fields (until the
// next write through the API, at most 30 s): only the grammar's fields are kept, so a question copies a few
// hundred strings out of the cache instead of the whole census.
nl::Vocabulary VocabularyOf(ApiContext& ctx) {
  const boost::json::object cached = CachedObject(ctx, "nl-vocabulary", [](Session& session) {
    const boost::json::object census = FieldCensus(session, Kind::kSeries, kVocabularyValues);
    const auto& wanted = nl::ValueFields();
    boost::json::object values;
    for (const auto& field : census.at("fields").as_array()) {
      const auto& f = field.as_object();
      const std::string_view path = f.at("path").as_string();
      if (std::find(wanted.begin(), wanted.end(), path) == wanted.end()) continue;
      boost::json::array strings;
      for (const auto& entry : f.at("values").as_array()) {
        const auto& value = entry.as_object().at("value");
        if (value.is_string() && !value.as_string().empty()) strings.push_back(value);
      }
      values[path] = std::move(strings);
    }
    return values;
  });
  nl::Vocabulary vocabulary;
  for (const auto& [path, strings] : cached) {
    auto& values = vocabulary.values[std::string(path)];
    for (const auto& value : strings.as_array()) values.emplace_back(value.as_string());
  }
  return vocabulary;
}

std::size_t CodePoints(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

struct Count {
  std::int64_t value = 0;
  std::string of;  // what is counted: patients, or the collection / level the request returns
};

// Runs the translated request the way its endpoint would (same validation) and counts what the question asks for.
Count CountOf(ApiContext& ctx, const nl::Translation& translation) {
  if (translation.endpoint == "/cohort") {
    CohortQuery cohort = ParseCohortRequest(translation.request);
    cohort.page.limit = 0;
    cohort.count = translation.patients;  // else the returned level's total is all the answer shows
    CohortResult result;
    ctx.store.Read([&](Session& session) { result = session.FindCohort(cohort); });
    if (translation.patients) return {result.counts.patients, "patients"};
    return {result.page.total, std::string(translation.request.at("return").as_string())};
  }
  const auto& collection = translation.request.at("collection").as_string();
  const auto kind = ParseKind(collection);
  if (!kind) {
    throw Error(Errc::kBadRequest, "the question needs the collection '" + std::string(collection) +
                                       "', which this server does not have",
                boost::json::object{{"field", "question"}});
  }
  query::Query query = query::ParseQueryRequest(translation.request);
  query.limit = 0;
  FindResult result;
  ctx.store.Read([&](Session& session) { result = session.Find(*kind, query); });
  return {result.total, std::string(collection)};
}

boost::json::array Strings(const std::vector<std::string>& values) {
  boost::json::array out;
  for (const std::string& v : values) out.emplace_back(v);
  return out;
}

}  // namespace

Response NlTranslate(ApiContext& ctx, const Request& request) {
  const boost::json::object body = BodyObject(request);
  for (const auto& [key, value] : body) {
    if (key != "question") {
      throw Error(Errc::kBadRequest, "unknown key '" + std::string(key) + "'", boost::json::object{{"field", key}});
    }
  }
  const auto* question = body.if_contains("question");
  if (question == nullptr || !question->is_string()) {
    throw Error(Errc::kBadRequest, "'question' (string) is required", boost::json::object{{"field", "question"}});
  }
  const std::string_view text = question->as_string();
  if (CodePoints(text) > nl::kMaxQuestionBytes) {
    throw Error(Errc::kBadRequest, "a question has at most " + std::to_string(nl::kMaxQuestionBytes) + " characters",
                boost::json::object{{"field", "question"}});
  }
  const nl::Translation translation = nl::Translate(text, VocabularyOf(ctx));
  if (!translation.understood) {
    throw Error(Errc::kBadRequest, "the question names no level, field or value of the catalogue",
                boost::json::object{{"field", "question"}, {"not_understood", Strings(translation.not_understood)}});
  }
  const Count count = CountOf(ctx, translation);
  return JsonResponse(200, boost::json::object{{"endpoint", translation.endpoint},
                                               {"request", translation.request},
                                               {"fields", Strings(translation.fields)},
                                               {"not_understood", Strings(translation.not_understood)},
                                               {"count", count.value},
                                               {"count_of", count.of}});
}

}  // namespace meta_db::db_api
