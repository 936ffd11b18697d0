// The hierarchy's invariants, kept on every write whatever the back-end:
//  - studies.series[] is the shallow summary {series_id, series_instance_uid, series_number,
//    series_description, modality} of the study's series, ordered by series_number;
//  - series.instances[] lists the ids of its instances (ordered by instance_number) and num_instances = its size;
//  - series.qc is SeriesQc of its instances' geometry (catalog/series_qc.hpp);
//  - created_at is set once, updated_at only when the stored content really changes;
//  - deleting a parent with children is a conflict unless cascading, which removes the whole subtree.
// All functions run inside a Store::Write unit and use only the catalogue (never the ledger); each leaves a
// state that RefreshSeries/RefreshStudy (and `meta_db check --repair`) can complete if the unit is cut short. Errors: Error(kNotFound/kConflict/kUnprocessable).
#pragma once

#include "catalog/series_qc.hpp"
#include "store/store.hpp"

#include <string_view>

namespace meta_db::catalog {

// Inserts a new document: assigns "_id" unless given (24-hex), stamps created_at/updated_at (client values are
// overwritten), checks references (series.study_id, instances.series_id must exist: kUnprocessable otherwise),
// and updates the parent's summary/list. Returns the stored document.
Document Create(CatalogSession& session, Kind kind, Document doc);

// Applies top-level fields of `patch` ("_id", "created_at", "updated_at" are rejected with kUnprocessable;
// a null value removes the field), keeps invariants (parent summaries; moving a series/instance to another
// parent updates both). Returns the stored document. kNotFound if absent.
Document Patch(CatalogSession& session, Kind kind, const ObjectId& id, const Document& patch);

// Removes a document. With children (series of a study, instances of a series) and !cascade: kConflict.
// With cascade: removes the subtree. Updates the parent's summary. kNotFound if absent.
void Remove(CatalogSession& session, Kind kind, const ObjectId& id, bool cascade);

enum class PutResult { kUnchanged, kInserted, kUpdated };

// Writes `doc` (which has "_id") if it differs from what is stored, keeping the stored created_at and moving
// updated_at only on a real change. Used by ingest's upserts and by every write here.
PutResult PutIfChanged(CatalogSession& session, Kind kind, Document doc);
// The same when the caller already holds what is stored under doc["_id"] (nullopt: nothing), saving a read.
// `doc` is completed in place (timestamps, series' _search_text) and stays the caller's, so a bulk writer can
// choose where the document is freed.
PutResult PutIfChanged(CatalogSession& session, Kind kind, Document& doc, const std::optional<Document>& stored);

// PutIfChanged for a document that other processes also rewrite: writes only if what is stored is still `stored`
// (CatalogSession::ReplaceIfUnchanged); nullopt when another writer changed it meanwhile (re-read and merge again).
std::optional<PutResult> PutIfStillStored(CatalogSession& session, Kind kind, Document& doc, const Document& stored);

// Recomputes series.instances[] / num_instances / qc from the stored children (one read of them).
// Returns true if the series changed.
bool RefreshSeries(CatalogSession& session, const ObjectId& series_id);
// The same with the series' instance ids already read, in their order (CatalogSession::ChildIdsOf), and the
// geometry of the same instances (any order).
bool RefreshSeries(CatalogSession& session, const ObjectId& series_id, const std::vector<ObjectId>& instance_ids,
                   const std::vector<SliceGeometry>& slices);
// Recomputes studies.series[] from the stored series. Returns true if the study changed.
bool RefreshStudy(CatalogSession& session, const ObjectId& study_id);
// The same with the study's series already at hand, in their order (each needs _id and the summary's fields).
bool RefreshStudy(CatalogSession& session, const ObjectId& study_id, const std::vector<Document>& series);

// researchers.jobs[] recomputed from the jobs naming each researcher: a store without multi-document transactions
// writes a job and its researcher apart, so a crash between the two leaves the list behind (a server calls this on
// start). Returns how many researchers changed.
std::int64_t RestoreResearcherJobs(CatalogSession& session);

// The LIDC marks of a series that is going away keep their UIDs but no longer name it (series_id, study_id null):
// kept and reported like reads whose series is not in the catalogue yet, linked again by the ingest that brings it.
void UnlinkAnnotations(CatalogSession& session, const ObjectId& series_id);

// The shallow summary entry of a series as stored in studies.series[].
Document SeriesSummary(const Document& series);

}  // namespace meta_db::catalog
