// Boost.JSON parsing with errors in meta_db's vocabulary, and deterministic serialisation.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace meta_db {

// Parses text as JSON; on failure throws Error(kBadRequest) naming the byte offset. Rejects trailing data.
boost::json::value ParseJson(std::string_view text);
// Parses text that must be a JSON object (kUnprocessable otherwise).
boost::json::object ParseJsonObject(std::string_view text);
std::string ToJson(const boost::json::value& value);

}  // namespace meta_db
