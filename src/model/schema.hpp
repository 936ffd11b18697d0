// The one spelling of the catalogue's typed fields: which document paths hold ObjectIds and which hold timestamps.
// In the neutral form (store.hpp) both are strings — 24-hex and ISO-8601 UTC — and a back-end with real types
// (MongoDB: ObjectId, BSON date) encodes exactly these paths, in documents and in filter values alike.
#pragma once

#include <string_view>

namespace meta_db {

enum class FieldEncoding { kPlain, kObjectId, kDate };

// How the values at a dotted document path are typed; array elements share their array's path
// ("collection_ids" holds ObjectIds, "series.series_id" the ids inside studies' series summaries).
FieldEncoding EncodingOf(std::string_view path);

}  // namespace meta_db
