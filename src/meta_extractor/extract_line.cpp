// The `meta_db extract` JSON line of one result.
#include "meta_extractor/header_reader.hpp"

namespace meta_db::extractor {

boost::json::object ToExtractLine(const ExtractResult& result) {
  boost::json::object line;
  line["path"] = result.record.path;
  if (result.outcome != FileOutcome::kDicom) line["error"] = result.error;
  if (result.outcome == FileOutcome::kDicom || result.outcome == FileOutcome::kIncomplete) {
    line["study"] = result.record.study;
    line["series"] = result.record.series;
    line["instance"] = result.record.instance;
  }
  return line;
}

}  // namespace meta_db::extractor
