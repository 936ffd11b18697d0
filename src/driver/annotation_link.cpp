// Writing LIDC marks as annotation documents and the link/measure/summary pass (see annotation_link.hpp).
#include "driver/annotation_link.hpp"

#include "annotations/lidc_measure.hpp"
#include "catalog/catalog.hpp"
#include "common/clock.hpp"
#include "common/object_id.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>
#include <map>

namespace meta_db::driver {

namespace {

namespace json = boost::json;
namespace an = meta_db::annotations;

// Every document of a query (the marks of one file or one series are a few dozen; pages keep it bounded anyway).
std::vector<Document> FindAll(CatalogSession& session, const json::object& filter) {
  std::vector<Document> out;
  query::Query q;
  q.filter = query::ParseFilter(filter);
  q.limit = 1000;
  q.count_total = false;
  for (;;) {
    FindResult page = session.Find(Kind::kAnnotations, q);
    const std::size_t got = page.results.size();
    for (Document& doc : page.results) out.push_back(std::move(doc));
    if (got < static_cast<std::size_t>(q.limit)) return out;
    q.skip += q.limit;
  }
}

std::string Str(const Document& doc, std::string_view key) {
  const auto* value = doc.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<double> Num(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is_number()) return value->to_number<double>();
  if (value->is_string()) {
    char* end = nullptr;
    const std::string text(value->as_string());
    const double number = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && std::isfinite(number)) return number;
  }
  return std::nullopt;
}

// The i-th value of a multi-valued attribute (an array, or a DICOM backslash string).
std::optional<double> NumAt(const json::value* value, std::size_t i) {
  if (value == nullptr) return std::nullopt;
  if (value->is_array()) return i < value->as_array().size() ? Num(&value->as_array()[i]) : std::nullopt;
  if (value->is_string()) {
    std::string_view text = value->as_string();
    for (std::size_t k = 0; k < i; ++k) {
      const auto slash = text.find('\\');
      if (slash == std::string_view::npos) return std::nullopt;
      text.remove_prefix(slash + 1);
    }
    const json::value part(text.substr(0, text.find('\\')));
    return Num(&part);
  }
  return i == 0 ? Num(value) : std::nullopt;
}

const json::value* Meta(const Document& doc, std::string_view key) {
  const auto* meta = doc.if_contains("metadata");
  return meta != nullptr && meta->is_object() ? meta->as_object().if_contains(key) : nullptr;
}

json::object MarkDocument(const std::string& path, const an::LidcRead& read, const an::Mark& mark) {
  json::object reader{{"session", mark.session}};
  if (!mark.radiologist_id.empty()) reader["radiologist_id"] = mark.radiologist_id;
  json::array rois;
  for (const an::Roi& roi : mark.rois) {
    json::array points;
    // {x, y} objects rather than [x, y] pairs: FerretDB (a MongoDB store we support) cannot keep nested arrays.
    for (const auto& [x, y] : roi.points) points.push_back(json::object{{"x", x}, {"y", y}});
    json::object out{{"sop_instance_uid", roi.sop_instance_uid}, {"inclusion", roi.inclusion},
                     {"points", std::move(points)}};
    if (roi.z_position) out["z_position"] = *roi.z_position;
    rois.push_back(std::move(out));
  }
  json::object doc{{"series_id", nullptr},
                   {"study_id", nullptr},
                   {"series_instance_uid", read.series_instance_uid},
                   {"study_instance_uid", read.study_instance_uid},
                   {"source_path", path},
                   {"sessions", read.sessions},
                   {"reader", std::move(reader)},
                   {"kind", an::KindName(mark.kind)},
                   {"nodule_id", mark.nodule_id},
                   {"rois", std::move(rois)}};
  if (mark.ratings) {
    json::object ratings;
    for (std::size_t i = 0; i < an::kRatingNames.size(); ++i) ratings[an::kRatingNames[i]] = (*mark.ratings)[i];
    doc["ratings"] = std::move(ratings);
  }
  return doc;
}

// What the pass needs of a series' slices.
struct Slices {
  std::map<std::string, std::pair<std::string, double>, std::less<>> by_sop;  // sop -> (instance id, z)
  std::vector<std::pair<double, std::string>> by_z;                          // (z, instance id), ascending
  std::vector<double> z;
  std::optional<double> pixel_spacing;
};

void AddSlice(Slices& slices, const std::string& id, const std::string& sop, std::optional<double> z) {
  if (!z) return;
  slices.by_sop[sop] = {id, *z};
  slices.by_z.emplace_back(*z, id);
  slices.z.push_back(*z);
}

void SortSlices(Slices& slices) {
  std::sort(slices.by_z.begin(), slices.by_z.end());
  std::sort(slices.z.begin(), slices.z.end());
}

Slices LoadSlices(CatalogSession& session, const Document& series, const KnownSlices* known) {
  Slices slices;
  slices.pixel_spacing = NumAt(Meta(series, "PixelSpacing"), 0);
  // An ingest's own series: the same slices without reading them back (unless the pixel spacing must come from the
  // first instance in the store's order, which only a read gives).
  if (known != nullptr && slices.pixel_spacing) {
    if (auto found = known->find(Str(series, "series_instance_uid")); found != known->end()) {
      for (const auto& [id, slice] : found->second) AddSlice(slices, id.ToHex(), slice.sop_instance_uid, slice.z);
      SortSlices(slices);
      return slices;
    }
  }
  // Only what the pass needs of each instance (a series has hundreds; their full documents cost most of the pass).
  query::Query slices_query;
  slices_query.filter = query::ParseFilter(json::object{{"series_id", Str(series, "_id")}});
  slices_query.projection = query::Projection{
      .include = true, .paths = {"sop_instance_uid", "metadata.ImagePositionPatient", "metadata.PixelSpacing"},
      .exclude_id = false};
  slices_query.limit = 1000000;
  slices_query.count_total = false;
  for (const Document& instance : session.Find(Kind::kInstances, slices_query).results) {
    if (!slices.pixel_spacing) slices.pixel_spacing = NumAt(Meta(instance, "PixelSpacing"), 0);
    AddSlice(slices, Str(instance, "_id"), Str(instance, "sop_instance_uid"), SliceZ(instance));
  }
  SortSlices(slices);
  return slices;
}

// imageZposition and DICOM positions are printed differently by the two writers: 0.05 mm apart is the same slice.
constexpr double kZTolerance = 0.05;

// Links each roi to its instance (by imageSOP_UID, else by imageZposition) and returns its outlines.
std::vector<an::Outline> LinkRois(json::object& doc, const Slices& slices) {
  std::vector<an::Outline> outlines;
  for (json::value& value : doc["rois"].as_array()) {
    json::object& roi = value.as_object();
    roi.erase("instance_id");
    std::optional<double> z = Num(roi.if_contains("z_position"));
    if (auto found = slices.by_sop.find(Str(roi, "sop_instance_uid")); found != slices.by_sop.end()) {
      roi["instance_id"] = found->second.first;
      if (!z) z = found->second.second;
    } else if (z) {
      auto near = std::lower_bound(slices.by_z.begin(), slices.by_z.end(), std::make_pair(*z - kZTolerance, std::string()));
      if (near != slices.by_z.end() && std::fabs(near->first - *z) <= kZTolerance) roi["instance_id"] = near->second;
    }
    an::Outline outline{.z = z.value_or(0), .inclusion = !roi.contains("inclusion") || roi.at("inclusion") != false,
                        .points = {}};
    for (const json::value& point : roi.at("points").as_array()) {
      const auto& xy = point.as_object();
      outline.points.emplace_back(static_cast<int>(xy.at("x").to_number<double>()),
                                  static_cast<int>(xy.at("y").to_number<double>()));
    }
    outlines.push_back(std::move(outline));
  }
  return outlines;
}

// What the pass sets on a mark (the rest is its file's, written by the writer): a mark whose values of these are the
// same after the pass is unchanged. Keeps the pass from copying every mark (outline points and all) to compare it.
json::object LinkedFields(const Document& mark) {
  json::object out;
  for (std::string_view key : {"series_id", "study_id", "diameter_mm", "volume_mm3", "cluster", "nodule_readers"}) {
    if (const auto* value = mark.if_contains(key)) out[key] = *value;
  }
  json::array instances;  // per roi: [] without a link, [id] with one
  if (const auto* rois = mark.if_contains("rois"); rois != nullptr && rois->is_array()) {
    for (const json::value& roi : rois->as_array()) {
      const auto* instance = roi.is_object() ? roi.as_object().if_contains("instance_id") : nullptr;
      instances.push_back(instance != nullptr ? json::array{*instance} : json::array{});
    }
  }
  out["rois"] = std::move(instances);
  return out;
}

// Writes a stored mark the pass changed (`before`: its LinkedFields as read), keeping its created_at.
void PutIfLinkChanged(CatalogSession& session, Document& mark, const json::object& before) {
  if (LinkedFields(mark) == before) return;
  const std::string now = NowIsoUtc();
  if (!mark.contains("created_at")) mark["created_at"] = now;
  mark["updated_at"] = now;
  session.Replace(Kind::kAnnotations, mark);
}

// `marks`: the series' stored marks; `series`: its stored document, if it is in the catalogue.
void RefreshSeriesAnnotations(Session& session, std::vector<Document> marks, const std::optional<Document>& series,
                              const KnownSlices* known, AnnotationLinkSummary& summary) {
  if (marks.empty() && (!series || !series->contains("annotations"))) return;  // nothing read of it, nothing to undo
  // What their stored versions hold of the fields the pass sets, so an unchanged mark is not written back.
  std::vector<json::object> before;
  before.reserve(marks.size());
  for (const Document& mark : marks) before.push_back(LinkedFields(mark));
  if (!series) {
    for (std::size_t i = 0; i < marks.size(); ++i) {
      Document& mark = marks[i];
      if (mark.at("series_id").is_null()) continue;
      mark["series_id"] = nullptr;  // its series left the catalogue: unlinked again, found when it comes back
      mark["study_id"] = nullptr;
      PutIfLinkChanged(session, mark, before[i]);
    }
    summary.unlinked += static_cast<std::int64_t>(marks.size());
    return;
  }
  const Slices slices = LoadSlices(session, *series, known);
  const double pixel_spacing = slices.pixel_spacing.value_or(1.0);
  std::optional<double> thickness = Num(Meta(*series, "SliceThickness"));
  if (!thickness && slices.z.size() >= 2) {
    std::vector<double> steps;
    for (std::size_t i = 1; i < slices.z.size(); ++i) steps.push_back(slices.z[i] - slices.z[i - 1]);
    std::nth_element(steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(steps.size() / 2), steps.end());
    thickness = steps[steps.size() / 2];
  }
  std::vector<std::vector<an::Outline>> nodule_outlines;
  std::vector<std::size_t> nodule_index;
  json::object out{{"readers", 0}, {"annotations", 0}, {"nodules", 0}, {"small_nodules", 0}, {"non_nodules", 0}};
  std::map<std::string, std::int64_t> sessions_of_file;
  std::optional<std::int64_t> max_malignancy;
  std::optional<double> max_diameter;
  for (std::size_t i = 0; i < marks.size(); ++i) {
    Document& mark = marks[i];
    mark["series_id"] = series->at("_id");
    mark["study_id"] = series->contains("study_id") ? series->at("study_id") : json::value(nullptr);
    std::vector<an::Outline> outlines = LinkRois(mark, slices);
    const std::string kind = Str(mark, "kind");
    mark.erase("diameter_mm");
    mark.erase("volume_mm3");
    mark.erase("cluster");
    mark.erase("nodule_readers");
    if (const auto sessions = mark.if_contains("sessions"); sessions != nullptr && sessions->is_int64()) {
      auto& known = sessions_of_file[Str(mark, "source_path")];
      known = std::max(known, sessions->as_int64());
    }
    if (kind == "nodule") {
      const auto diameter = an::Diameter(outlines, pixel_spacing);
      if (diameter) {
        mark["diameter_mm"] = *diameter;
        max_diameter = std::max(max_diameter.value_or(*diameter), *diameter);
      }
      mark["volume_mm3"] = an::Volume(outlines, pixel_spacing, thickness.value_or(1.0));
      if (const auto* malignancy = mark.if_contains("ratings") ? mark.at("ratings").as_object().if_contains("malignancy")
                                                               : nullptr;
          malignancy != nullptr && malignancy->is_int64()) {
        max_malignancy = std::max(max_malignancy.value_or(malignancy->as_int64()), malignancy->as_int64());
      }
      nodule_outlines.push_back(std::move(outlines));
      nodule_index.push_back(i);
      out["annotations"] = out["annotations"].as_int64() + 1;
    } else if (kind == "small_nodule") {
      out["small_nodules"] = out["small_nodules"].as_int64() + 1;
    } else {
      out["non_nodules"] = out["non_nodules"].as_int64() + 1;
    }
  }
  const std::vector<int> clusters = an::ClusterAnnotations(nodule_outlines, slices.z, thickness.value_or(1.0));
  std::map<int, std::set<std::pair<std::string, std::int64_t>>> readers_of;  // cluster -> (file, session)
  for (std::size_t n = 0; n < clusters.size(); ++n) {
    const Document& mark = marks[nodule_index[n]];
    readers_of[clusters[n]].emplace(Str(mark, "source_path"), mark.at("reader").as_object().at("session").to_number<std::int64_t>());
  }
  std::int64_t max_readers = 0;
  for (std::size_t n = 0; n < clusters.size(); ++n) {
    Document& mark = marks[nodule_index[n]];
    const auto readers = static_cast<std::int64_t>(readers_of[clusters[n]].size());
    mark["cluster"] = clusters[n];
    mark["nodule_readers"] = readers;
    max_readers = std::max(max_readers, readers);
  }
  for (std::size_t i = 0; i < marks.size(); ++i) PutIfLinkChanged(session, marks[i], before[i]);
  std::int64_t readers = 0;
  for (const auto& [file, sessions] : sessions_of_file) readers += sessions;
  out["readers"] = readers;
  out["nodules"] = static_cast<std::int64_t>(readers_of.size());
  if (max_malignancy) out["max_malignancy"] = *max_malignancy;
  if (max_diameter) out["max_diameter_mm"] = *max_diameter;
  out["max_nodule_readers"] = max_readers;
  Document updated = *series;
  if (marks.empty()) {
    updated.erase("annotations");
  } else {
    updated["annotations"] = std::move(out);
  }
  catalog::PutIfChanged(session, Kind::kSeries, updated, series);
  ++summary.series_refreshed;
  summary.linked += static_cast<std::int64_t>(marks.size());
}

}  // namespace

std::map<std::string, std::vector<Document>> StoredMarksOf(CatalogSession& session, const std::vector<std::string>& paths) {
  // Chunks well inside the filter limits meant for clients: this filter is the server's own.
  constexpr std::size_t kPathsPerLookup = 500;
  std::map<std::string, std::vector<Document>> by_path;
  for (std::size_t begin = 0; begin < paths.size(); begin += kPathsPerLookup) {
    json::array chunk;
    for (std::size_t i = begin; i < std::min(paths.size(), begin + kPathsPerLookup); ++i) chunk.emplace_back(paths[i]);
    for (Document& mark : FindAll(session, {{"source_path", json::object{{"$in", std::move(chunk)}}}})) {
      std::string path = Str(mark, "source_path");
      by_path[std::move(path)].push_back(std::move(mark));
    }
  }
  return by_path;
}

void ReplaceFileAnnotations(CatalogSession& session, const std::string& path, const annotations::LidcRead* read,
                            const std::vector<Document>& stored, std::set<std::string>& changed_series) {
  std::set<ObjectId> written;
  // Every stored version of a mark written below is among them: their ids derive from the path.
  std::map<std::string, const Document*, std::less<>> stored_of;
  for (const Document& old : stored) stored_of.emplace(Str(old, "_id"), &old);
  if (read != nullptr) {
    for (std::size_t i = 0; i < read->marks.size(); ++i) {
      json::object doc = MarkDocument(path, *read, read->marks[i]);
      // Ids derive from the file and the mark's place in it, so re-reading an unchanged mark rewrites nothing.
      const ObjectId id = ObjectId::FromKey("annotations", path + "\n" + std::to_string(i), read->series_instance_uid);
      doc["_id"] = id.ToHex();
      written.insert(id);
      std::optional<Document> stored;
      if (auto found = stored_of.find(id.ToHex()); found != stored_of.end()) stored = *found->second;
      // A mark that did not change keeps its link and measures (the link pass refreshes them anyway).
      if (stored) {
        for (std::string_view key : {"series_id", "study_id", "diameter_mm", "volume_mm3", "cluster", "nodule_readers"}) {
          if (const auto* value = stored->if_contains(key)) doc[key] = *value;
        }
        for (std::size_t r = 0; r < doc["rois"].as_array().size(); ++r) {
          const auto* stored_rois = stored->if_contains("rois");
          if (stored_rois == nullptr || !stored_rois->is_array() || r >= stored_rois->as_array().size()) break;
          if (const auto* instance = stored_rois->as_array()[r].as_object().if_contains("instance_id")) {
            doc["rois"].as_array()[r].as_object()["instance_id"] = *instance;
          }
        }
      }
      if (catalog::PutIfChanged(session, Kind::kAnnotations, doc, stored) != catalog::PutResult::kUnchanged) {
        changed_series.insert(read->series_instance_uid);
      }
    }
    changed_series.insert(read->series_instance_uid);
  }
  for (const auto& [hex, old] : stored_of) {
    const ObjectId id = *ObjectId::Parse(hex);
    if (written.contains(id)) continue;
    session.Remove(Kind::kAnnotations, id);
    changed_series.insert(Str(*old, "series_instance_uid"));
  }
}

std::optional<double> SliceZ(const Document& instance) { return NumAt(Meta(instance, "ImagePositionPatient"), 2); }

AnnotationLinkSummary LinkAnnotations(Store& store, const std::set<std::string>& series_uids, const KnownSlices* known) {
  AnnotationLinkSummary summary;
  std::set<std::string> uids = series_uids;
  store.Read([&](Session& session) {
    for (const Document& mark : FindAll(session, {{"series_id", nullptr}})) uids.insert(Str(mark, "series_instance_uid"));
  });
  uids.erase("");
  // A unit of writes per few series: bounded transactions, and progress kept if a later one fails.
  constexpr std::size_t kSeriesPerUnit = 50;
  auto next = uids.begin();
  while (next != uids.end()) {
    store.Write([&](Session& session) {
      // The unit's marks and series in two look-ups rather than two per series.
      auto it = next;
      json::array unit_uids;
      std::vector<std::string> keys;
      for (std::size_t n = 0; n < kSeriesPerUnit && it != uids.end(); ++n, ++it) {
        unit_uids.emplace_back(*it);
        keys.push_back(*it);
      }
      std::map<std::string, std::vector<Document>, std::less<>> marks_of;
      for (Document& mark : FindAll(session, {{"series_instance_uid", json::object{{"$in", std::move(unit_uids)}}}})) {
        std::string uid = Str(mark, "series_instance_uid");
        marks_of[std::move(uid)].push_back(std::move(mark));
      }
      std::map<std::string, Document, std::less<>> series_of;
      for (Document& series : session.GetByKeys(Kind::kSeries, keys)) {
        std::string uid = Str(series, "series_instance_uid");
        series_of.emplace(std::move(uid), std::move(series));
      }
      for (const std::string& uid : keys) {
        std::optional<Document> series;
        if (auto found = series_of.find(uid); found != series_of.end()) series = std::move(found->second);
        std::vector<Document> marks;
        if (auto found = marks_of.find(uid); found != marks_of.end()) marks = std::move(found->second);
        RefreshSeriesAnnotations(session, std::move(marks), series, known, summary);
      }
      next = it;
    });
  }
  return summary;
}

}  // namespace meta_db::driver
