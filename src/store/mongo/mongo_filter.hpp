// The filter language's tree (query/filter_tree.hpp) serialised straight to a MongoDB filter document: BSON built
// node by node, operands typed by the schema (ids as ObjectIds, timestamps as dates), no text ever spliced.
// Thread-safety: pure functions. Errors: none (the tree was validated when it was parsed).
#pragma once

#include "query/query.hpp"
#include "store/mongo/mongo_handles.hpp"

#include <string_view>
#include <vector>

namespace meta_db::mongo {

// The filter document for `filter` (nullptr: {}) AND-ed with free text over series._search_text: each word a
// case-insensitive substring match (servers without a text index), or one $text search when `text_index`.
Bson EncodeFilter(const query::Filter* filter, std::string_view text, bool text_index);

// {"<path>": 1|-1, ..., "_id": 1}: the query's sort keys, ties broken by _id (the store's natural order).
Bson EncodeSort(const std::vector<query::SortKey>& sort);

}  // namespace meta_db::mongo
