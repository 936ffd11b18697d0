// `meta_db export`: the same export writer as the HTTP routes, into a file or stdout.
#include "db_api/export.hpp"

#include "common/error.hpp"
#include "common/json_io.hpp"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace meta_db::db_api {

namespace {

// Writes to a stream; a failed write (disk full, closed pipe) stops the export and is reported.
class StreamSink : public BodySink {
 public:
  explicit StreamSink(std::ostream& out) : out_(out) {}
  bool Write(std::string_view bytes) override {
    out_.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return static_cast<bool>(out_);
  }

 private:
  std::ostream& out_;
};

}  // namespace

std::int64_t RunExportCommand(Store& store, const ExportCommand& command) {
  if (command.collection.empty() == command.query_file.empty()) {
    throw Error(Errc::kBadRequest, "give one of --collection NAME or --query-file FILE");
  }
  ExportSpec spec;
  RowSource source;
  if (!command.collection.empty()) {
    spec = ParseExportSpec(command.format, command.level, command.fields, command.split, command.stratify,
                           command.seed, Kind::kSeries);
    std::optional<Document> collection;
    store.Read([&](Session& session) { collection = session.GetByKey(Kind::kCollections, command.collection); });
    if (!collection) throw Error(Errc::kNotFound, "no collection named '" + command.collection + "'");
    source = CollectionSource(spec.level, *ObjectId::Parse(collection->at("_id").as_string()));
  } else {
    std::ifstream file(command.query_file);
    if (!file) throw Error(Errc::kBadRequest, "cannot read --query-file " + command.query_file);
    std::stringstream text;
    text << file.rdbuf();
    const boost::json::object body = ParseJsonObject(text.str());
    const auto* name = body.if_contains("collection");
    const auto kind = name != nullptr && name->is_string() ? ParseKind(name->as_string()) : std::nullopt;
    if (!kind || (*kind != Kind::kStudies && *kind != Kind::kSeries && *kind != Kind::kInstances)) {
      throw Error(Errc::kBadRequest, "the query file's 'collection' must be studies, series or instances");
    }
    if (command.level && *command.level != CollectionName(*kind)) {
      throw Error(Errc::kBadRequest, "--level differs from the query file's collection");
    }
    const query::Query parsed = query::ParseQueryRequest(body);
    spec = ParseExportSpec(command.format, std::nullopt, command.fields, command.split, command.stratify,
                           command.seed, *kind);
    boost::json::value filter;
    if (const auto* given = body.if_contains("query")) filter = *given;
    if (const auto* given = body.if_contains("filter")) filter = *given;
    if (filter.is_object() && filter.as_object().empty()) filter = nullptr;
    source = FilterSource(*kind, std::move(filter), parsed.text);
  }
  std::int64_t rows = 0;
  if (command.out == "-") {
    StreamSink sink(std::cout);
    rows = RunExport(store, spec, source, sink);
    std::cout.flush();
    if (!std::cout) throw Error(Errc::kInternal, "writing the export to stdout failed");
    return rows;
  }
  // Written beside the target and renamed at the end: an export that fails leaves no half file under its name.
  const std::string partial = command.out + ".partial";
  {
    std::ofstream file(partial, std::ios::binary | std::ios::trunc);
    if (!file) throw Error(Errc::kBadRequest, "cannot write " + partial);
    StreamSink sink(file);
    try {
      rows = RunExport(store, spec, source, sink);
      file.close();
      if (!file) throw Error(Errc::kInternal, "writing " + partial + " failed");
    } catch (...) {
      std::remove(partial.c_str());
      throw;
    }
  }
  if (std::rename(partial.c_str(), command.out.c_str()) != 0) {
    std::remove(partial.c_str());
    throw Error(Errc::kInternal, "cannot rename " + partial + " to " + command.out);
  }
  return rows;
}

}  // namespace meta_db::db_api
