// `meta_db extract`: scans an archive with the shared pipeline and streams one JSON line per DICOM-like file.
#include "driver/extract_command.hpp"

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>

#include "common/error.hpp"
#include "meta_extractor/archive_scan.hpp"
#include "meta_extractor/dicom_entry_points.hpp"

namespace meta_db::driver {

int RunExtract(const std::string& archive, const std::string& profile_dir, int threads, std::ostream& out,
               std::ostream& err) {
  namespace ex = meta_db::extractor;
  const auto start = std::chrono::steady_clock::now();
  ex::ScanStats stats;
  try {
    const ex::DicomEntryPoints& dicom = ex::Dicom();
    const std::unique_ptr<ex::HeaderReader> reader =
        dicom.make_reader(profile_dir.empty() ? dicom.default_profiles() : dicom.load_profiles(profile_dir));
    // Lines are rendered on the parser threads (prepare), so the calling thread only writes them out.
    const ex::ScanOptions options{
        .threads = threads,
        .io_depth = 0,
        .needs_parse = nullptr,
        .prepare =
            [](ex::ScanItem& item) {
              if (item.result.outcome == ex::FileOutcome::kNotDicom) return;
              item.text = boost::json::serialize(ex::ToExtractLine(item.result));
              item.text += '\n';
            },
    };
    stats = ex::ScanArchive(archive, *reader, options, [&](ex::ScanItem&& item) { out << item.text; });
  } catch (const Error& e) {
    err << "meta_db extract: " << e.what() << '\n';
    return 2;
  }
  out.flush();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char summary[256];
  std::snprintf(summary, sizeof summary,
                "extract: %lld files seen, %lld DICOM parsed, %lld non-DICOM skipped, %lld failed, %lld incomplete, "
                "%.2f s, %.0f files/s",
                static_cast<long long>(stats.files), static_cast<long long>(stats.dicom),
                static_cast<long long>(stats.not_dicom), static_cast<long long>(stats.errors),
                static_cast<long long>(stats.incomplete), seconds,
                seconds > 0 ? static_cast<double>(stats.files) / seconds : 0.0);
  err << summary;
  if (stats.unreadable_dirs > 0) err << ", " << stats.unreadable_dirs << " unreadable directories";
  if (stats.unseen_files > 0) err << ", " << stats.unseen_files << " files that could not be stat'ed";
  err << '\n';
  for (const extractor::UnseenPath& unseen : stats.unseen) {
    err << "extract: not seen: " << unseen.path << (unseen.directory ? "/" : "") << ": " << unseen.reason << '\n';
  }
  return 0;
}

}  // namespace meta_db::driver
