// Neutral JSON documents <-> BSON for the MongoDB back-end.
#include "store/mongo/mongo_codec.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"
#include "model/schema.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <limits>

namespace meta_db::mongo {

namespace json = boost::json;

namespace {

int KeyLength(std::string_view key) { return static_cast<int>(key.size()); }

std::string Join(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  std::string path(prefix);
  path += '.';
  path += key;
  return path;
}

// Only a canonical timestamp (what FormatIsoUtc writes) becomes a date in a document, so decoding gives back the
// very string that was stored; filters also accept shorter forms.
std::optional<std::chrono::system_clock::time_point> DateOf(std::string_view text, bool canonical_only) {
  auto when = ParseIsoUtc(text);
  if (when && canonical_only && FormatIsoUtc(*when) != text) return std::nullopt;
  return when;
}

void Append(bson_t* out, std::string_view key, const json::value& value, std::string_view path, bool filter) {
  // BSON keys are C strings (bsonspec.org: e_name is a cstring): libbson would refuse the key and abort the process at
  // the end of a sub-document it never began.
  if (key.find('\0') != std::string_view::npos) {
    throw Error(Errc::kUnprocessable, "a field name with a NUL byte cannot be stored in MongoDB",
                json::object{{"field", std::string(path)}});
  }
  switch (value.kind()) {
    case json::kind::null: bson_append_null(out, key.data(), KeyLength(key)); return;
    case json::kind::bool_: bson_append_bool(out, key.data(), KeyLength(key), value.get_bool()); return;
    case json::kind::int64: {
      const std::int64_t n = value.get_int64();
      if (n >= std::numeric_limits<std::int32_t>::min() && n <= std::numeric_limits<std::int32_t>::max()) {
        bson_append_int32(out, key.data(), KeyLength(key), static_cast<std::int32_t>(n));
      } else {
        bson_append_int64(out, key.data(), KeyLength(key), n);
      }
      return;
    }
    case json::kind::uint64: {
      const std::uint64_t n = value.get_uint64();
      if (n <= static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
        bson_append_int32(out, key.data(), KeyLength(key), static_cast<std::int32_t>(n));
      } else if (n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        bson_append_int64(out, key.data(), KeyLength(key), static_cast<std::int64_t>(n));
      } else {
        bson_append_double(out, key.data(), KeyLength(key), static_cast<double>(n));
      }
      return;
    }
    case json::kind::double_: bson_append_double(out, key.data(), KeyLength(key), value.get_double()); return;
    case json::kind::string: {
      const json::string& text = value.get_string();
      const FieldEncoding encoding = EncodingOf(path);
      if (encoding == FieldEncoding::kObjectId) {
        if (const auto id = ObjectId::Parse(text)) {
          AppendObjectId(out, key, *id);
          return;
        }
      } else if (encoding == FieldEncoding::kDate) {
        if (const auto when = DateOf(text, !filter)) {
          const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(when->time_since_epoch()).count();
          bson_append_date_time(out, key.data(), KeyLength(key), millis);
          return;
        }
      }
      bson_append_utf8(out, key.data(), KeyLength(key), text.data(), static_cast<int>(text.size()));
      return;
    }
    case json::kind::array: {
      bson_t child;
      bson_append_array_begin(out, key.data(), KeyLength(key), &child);
      char buffer[16];
      std::uint32_t index = 0;
      for (const json::value& element : value.get_array()) {
        const char* element_key = nullptr;
        const auto length = bson_uint32_to_string(index++, &element_key, buffer, sizeof buffer);
        Append(&child, std::string_view(element_key, length), element, path, filter);  // elements share the path
      }
      bson_append_array_end(out, &child);
      return;
    }
    case json::kind::object: {
      bson_t child;
      bson_append_document_begin(out, key.data(), KeyLength(key), &child);
      for (const auto& [field, field_value] : value.get_object()) {
        // Operators inside a filter operand ({"$gt": ...}) keep the path of the field they apply to.
        const bool is_operator = filter && !field.empty() && field.front() == '$';
        Append(&child, field, field_value, is_operator ? std::string(path) : Join(path, field), filter);
      }
      bson_append_document_end(out, &child);
      return;
    }
  }
}

}  // namespace

void AppendValue(bson_t* out, std::string_view key, const json::value& value, std::string_view path) {
  Append(out, key, value, path, false);
}

void AppendFilterValue(bson_t* out, std::string_view key, const json::value& value, std::string_view path) {
  Append(out, key, value, path, true);
}

void AppendObjectId(bson_t* out, std::string_view key, const ObjectId& id) {
  bson_oid_t oid;
  bson_oid_init_from_data(&oid, id.bytes().data());
  bson_append_oid(out, key.data(), KeyLength(key), &oid);
}

ObjectId ToObjectId(const bson_oid_t& oid) {
  std::array<std::uint8_t, 12> bytes{};
  std::copy(std::begin(oid.bytes), std::end(oid.bytes), bytes.begin());
  return ObjectId(bytes);
}

Bson EncodeDocument(const Document& doc) {
  Bson out;
  for (const auto& [key, value] : doc) AppendValue(out.get(), key, value, key);
  return out;
}

Bson IdSelector(const ObjectId& id) {
  Bson selector;
  AppendObjectId(selector.get(), "_id", id);
  return selector;
}

json::value DecodeValue(const bson_iter_t* iter) {
  switch (bson_iter_type(iter)) {
    case BSON_TYPE_DOUBLE: return bson_iter_double(iter);
    case BSON_TYPE_UTF8: {
      std::uint32_t length = 0;
      const char* text = bson_iter_utf8(iter, &length);
      return json::string(std::string_view(text, length));
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
      const bool is_array = bson_iter_type(iter) == BSON_TYPE_ARRAY;
      bson_iter_t child;
      if (!bson_iter_recurse(iter, &child)) return nullptr;
      if (is_array) {
        json::array array;
        while (bson_iter_next(&child)) array.push_back(DecodeValue(&child));
        return array;
      }
      json::object object;
      while (bson_iter_next(&child)) object[bson_iter_key(&child)] = DecodeValue(&child);
      return object;
    }
    case BSON_TYPE_OID: return json::string(ToObjectId(*bson_iter_oid(iter)).ToHex());
    case BSON_TYPE_BOOL: return bson_iter_bool(iter);
    case BSON_TYPE_DATE_TIME:
      return json::string(FormatIsoUtc(std::chrono::system_clock::time_point(
          std::chrono::milliseconds(bson_iter_date_time(iter)))));
    case BSON_TYPE_INT32: return static_cast<std::int64_t>(bson_iter_int32(iter));
    case BSON_TYPE_INT64: return bson_iter_int64(iter);
    case BSON_TYPE_DECIMAL128: {
      bson_decimal128_t value;
      bson_iter_decimal128(iter, &value);
      char text[BSON_DECIMAL128_STRING];
      bson_decimal128_to_string(&value, text);
      return json::string(text);
    }
    default: return nullptr;  // types the catalogue never writes (binary, regex, timestamp, ...)
  }
}

Document DecodeDocument(const bson_t* doc) {
  Document out;
  bson_iter_t iter;
  if (!bson_iter_init(&iter, doc)) return out;
  while (bson_iter_next(&iter)) out[bson_iter_key(&iter)] = DecodeValue(&iter);
  return out;
}

}  // namespace meta_db::mongo
