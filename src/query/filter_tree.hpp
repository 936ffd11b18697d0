// The parsed, validated filter tree: one node type for every operator of the filter language.
#pragma once

#include "query/regex.hpp"

#include <boost/json/value.hpp>

#include <memory>
#include <string>
#include <vector>

namespace meta_db::query {

enum class Op {
  kAnd, kOr, kNor,                   // children: sub-filters on whole documents
  kEq, kNe, kGt, kGte, kLt, kLte,    // value: the operand
  kIn, kNin, kAll,                   // value: array operand
  kExists,                           // value: bool
  kRegex,                            // regex
  kSize,                             // value: integer
  kElemMatch,                        // children: sub-filter (object form) or operator expressions (value form)
  kNot,                              // children: operator expressions on the same path, inverted as a whole
};

// One node. Leaf operators carry a dotted path (empty inside $elemMatch's operator form, where the
// element itself is the subject) already split into components.
struct Filter {
  Op op = Op::kAnd;
  std::string path;
  std::vector<std::string> parts;
  boost::json::value value;
  std::shared_ptr<const Regex> regex;
  std::vector<Filter> children;
  bool elem_match_values = false;  // $elemMatch in operator form ({"$gt": 1}) instead of object form
};

// Limits the parser enforces (DESIGN.md "Query language"; docs/query.md).
inline constexpr std::size_t kMaxPathComponents = 16;
inline constexpr std::size_t kMaxListItems = 10000;
inline constexpr std::size_t kMaxFilterBytes = 64 * 1024;
inline constexpr std::size_t kMaxFilterDepth = 32;

}  // namespace meta_db::query
