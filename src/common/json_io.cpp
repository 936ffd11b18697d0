// JSON parse/serialise helpers that speak Errc.
#include "common/json_io.hpp"

#include "common/error.hpp"

#include <boost/json/stream_parser.hpp>
#include <boost/json/serialize.hpp>

namespace meta_db {

boost::json::value ParseJson(std::string_view text) {
  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size()) ec = boost::json::error::extra_data;
  if (!ec) parser.finish(ec);
  if (ec) {
    boost::json::object details;
    details["position"] = consumed;
    throw Error(Errc::kBadRequest, "malformed JSON at byte " + std::to_string(consumed) + ": " + ec.message(),
                std::move(details));
  }
  return parser.release();
}

boost::json::object ParseJsonObject(std::string_view text) {
  boost::json::value value = ParseJson(text);
  if (!value.is_object()) throw Error(Errc::kUnprocessable, "request body must be a JSON object");
  return std::move(value.as_object());
}

std::string ToJson(const boost::json::value& value) { return boost::json::serialize(value); }

}  // namespace meta_db
