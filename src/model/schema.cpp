// The catalogue's typed fields (the seed's schema: references are ObjectIds, created_at/updated_at dates).
#include "model/schema.hpp"

#include <array>

namespace meta_db {

namespace {

// _id and every reference: study_id/series_id (parents), collection_id(s), series[].series_id (studies' summaries),
// instances[] (series), jobs[] (researchers), owner_id (collections: the owning researcher).
constexpr std::array<std::string_view, 9> kObjectIdPaths{"_id",       "study_id",         "series_id",
                                                         "collection_id", "collection_ids", "instances",
                                                         "series.series_id", "jobs",        "owner_id"};
constexpr std::array<std::string_view, 2> kDatePaths{"created_at", "updated_at"};

}  // namespace

FieldEncoding EncodingOf(std::string_view path) {
  for (std::string_view p : kObjectIdPaths) {
    if (p == path) return FieldEncoding::kObjectId;
  }
  for (std::string_view p : kDatePaths) {
    if (p == path) return FieldEncoding::kDate;
  }
  return FieldEncoding::kPlain;
}

}  // namespace meta_db
