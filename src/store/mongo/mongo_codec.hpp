// The MongoDB back-end's document encoding: the catalogue's neutral form (JSON, ids and dates as strings) to BSON
// with real ObjectIds and dates at the paths model/schema.hpp names, integers as int32 when they fit, and back.
// Thread-safety: pure functions. Errors: none (values of BSON types the neutral form lacks decode to strings).
#pragma once

#include "common/object_id.hpp"
#include "store/mongo/mongo_handles.hpp"
#include "store/store.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace meta_db::mongo {

// Appends `value` under `key`, typed by the schema's encoding of `path` (a dotted document path).
void AppendValue(bson_t* out, std::string_view key, const boost::json::value& value, std::string_view path);
// The same for a filter operand: dates are also recognised in the short forms a user types ("2026-01-01").
void AppendFilterValue(bson_t* out, std::string_view key, const boost::json::value& value, std::string_view path);
void AppendObjectId(bson_t* out, std::string_view key, const ObjectId& id);

Bson EncodeDocument(const Document& doc);
Document DecodeDocument(const bson_t* doc);
boost::json::value DecodeValue(const bson_iter_t* iter);

// {"_id": ObjectId(id)}.
Bson IdSelector(const ObjectId& id);
ObjectId ToObjectId(const bson_oid_t& oid);

}  // namespace meta_db::mongo
