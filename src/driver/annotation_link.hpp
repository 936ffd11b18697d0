// LIDC reads in the catalogue: a file's marks written as `annotations` documents (inside the ingest batch that
// records the file), and the pass that links them to their series and instances, measures them (pylidc's diameter,
// volume, clusters) and keeps the series' `annotations` summary. docs/annotations.md.
// Crash safety: marks are written unlinked (series_id null) with their file record; the link pass is idempotent and
// picks up every unlinked mark whose series exists, so a run killed before it is completed by the next one.
#pragma once

#include "annotations/lidc_read.hpp"
#include "common/object_id.hpp"
#include "store/store.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace meta_db::driver {

// The stored marks of the files at `paths`, by path (files without marks are left out). A batch looks them up
// at once before it writes: on a server back-end a look-up between writes sends the writes made so far first.
std::map<std::string, std::vector<Document>> StoredMarksOf(CatalogSession& session, const std::vector<std::string>& paths);

// Replaces what the file at `path` contributed — its `stored` marks (StoredMarksOf) — with the marks of `read`
// (nullptr: removes them all), adding the series UIDs whose annotations changed to `changed_series`.
void ReplaceFileAnnotations(CatalogSession& session, const std::string& path, const annotations::LidcRead* read,
                            const std::vector<Document>& stored, std::set<std::string>& changed_series);

struct AnnotationLinkSummary {
  std::int64_t series_refreshed = 0;  // series whose annotations were linked/measured and summary recomputed
  std::int64_t linked = 0;            // marks whose series is in the catalogue
  std::int64_t unlinked = 0;          // marks kept without a series (it is not in the catalogue yet)
};

// What the link pass needs of one instance.
struct KnownSlice {
  std::string sop_instance_uid;
  std::optional<double> z;  // SliceZ of its document
};
// Every instance of some series, by series_instance_uid and instance id: what an ingest wrote of the series it
// created, so the pass need not read their instances back.
using KnownSlices = std::map<std::string, std::map<ObjectId, KnownSlice>, std::less<>>;

// The z position the pass uses for an instance document (ImagePositionPatient's third value), if it has one.
std::optional<double> SliceZ(const Document& instance);

// Links, measures and summarises the annotations of `series_uids` and of every still unlinked mark. A series in
// `known` (optional) takes its slices from there; the others' are read from the store.
AnnotationLinkSummary LinkAnnotations(Store& store, const std::set<std::string>& series_uids,
                                      const KnownSlices* known = nullptr);

}  // namespace meta_db::driver
