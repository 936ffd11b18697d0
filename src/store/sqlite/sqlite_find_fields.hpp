// Chosen fields read out of a stored document's JSON text without decoding the rest of it (ScanPages' projection).
// Thread-safety: a FieldPicker is immutable once built; Pick may run on many threads.
// Errors: Pick throws Error(kInternal) for stored text that is not a JSON object, kBadRequest for a malformed value.
#pragma once

#include "store/store.hpp"

#include <boost/json/storage_ptr.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace meta_db::sqlite {

class FieldPicker {
 public:
  // `paths`: dotted paths of an include projection (_id is always kept).
  explicit FieldPicker(std::vector<std::string> paths);

  // query::Project(ParseStoredDocument(text), {include, paths}), decoding only the top-level members the paths start
  // with (and _id): the others are skipped over as text, and the scan stops once every wanted member is found. The
  // document's memory comes from `storage` (a page's documents share one arena).
  Document Pick(std::string_view text, const boost::json::storage_ptr& storage = {}) const;

 private:
  std::vector<std::string> paths_;
  std::vector<std::string> heads_;  // "_id", then the paths' distinct first components
  bool flat_ = true;                // every path is one component: the picked members are the answer
};

}  // namespace meta_db::sqlite
