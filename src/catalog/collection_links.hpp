// Which studies, series and cases a collection holds because of whom: each job's links and the collection's manual
// ones (cases appended by hand, tags that were there before any job), so that removing one source unlinks only
// what no other source still links. Kept in job_records documents of bounded size.
// Thread-safety: functions on one session, used by the thread running it. Errors: the store's.
#pragma once

#include "store/store.hpp"

#include <boost/json/array.hpp>

#include <map>
#include <optional>
#include <set>
#include <string>

namespace meta_db::catalog {

// What one source links into a collection: study and series ids (24-hex) and the patients it made cases for,
// with the accession numbers each case lists.
struct LinkSet {
  std::set<std::string> studies, series;
  std::map<std::string, std::set<std::string>> patients;  // patient_id -> accession numbers
};

// The links of one job (`job_id`) or, with nullopt, the collection's manual links.
LinkSet ReadLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id);

// Makes `wanted` the links of `job_id` (nullopt: manual) in `collection`: tags what is new with the collection's id
// (studies' and series' collection_ids[], one case per patient), untags what this source no longer links unless
// another source of the collection still does. A job linking what was tagged before any source did leaves that
// to the manual links, so removing the job keeps it.
void ApplyLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id,
                const LinkSet& wanted);

// Resolves cases {case_id, patient_id, accession_numbers[]} against the stored studies (chunked look-ups) and adds
// what they match to the collection's manual links (POST /collections/{id}/cases).
void LinkCases(CatalogSession& session, const ObjectId& collection, const boost::json::array& cases);

// LinkCases for every collection's hand-made cases (those no job made), after an ingest brought their data.
void RelinkCollections(Store& store);

// {"counts": {cases, patients, studies, series, instances}, "breakdowns": {modality, manufacturer, kernel,
// slice_thickness: [{value, series, instances}]}} over the studies and series tagged with the collection.
Document CollectionSummary(CatalogSession& session, const ObjectId& collection);

// Identifiers per $in of a server-built look-up: far below the filter language's item and byte limits.
std::vector<boost::json::array> ChunkValues(const std::vector<std::string>& values);

}  // namespace meta_db::catalog
