// meta_db: the one binary and composition root — parses the command line and wires modules and back-ends.
#include "catalog/catalog.hpp"
#include "catalog/collection_links.hpp"
#include "catalog/job_resolution.hpp"
#include "common/error.hpp"
#include "common/json_io.hpp"
#include "db_api/audit.hpp"
#include "db_api/auth.hpp"
#include "db_api/export.hpp"
#include "db_api/server.hpp"
#include "driver/check.hpp"
#include "driver/extract_command.hpp"
#include "driver/migrate.hpp"
#include "driver/ingest.hpp"
#include "store/store.hpp"
#include "meta_extractor/dicom_entry_points.hpp"
#include "synth/synth.hpp"

#include <CLI/CLI.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <regex>

namespace {

using meta_db::Errc;
using meta_db::Error;

// Exit codes (docs/cli.md): 0 ok, 1 unexpected failure, 2 bad arguments or input (a missing or empty archive root, no
// catalogue at the --db of a command that reads one), 3 database unavailable.
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;
constexpr int kExitStoreUnavailable = 3;

int ExitCodeOf(const Error& error) {
  switch (error.code()) {
    case Errc::kBadRequest:
    case Errc::kUnprocessable:
    case Errc::kNotFound: return kExitBadInput;
    case Errc::kUnavailable:
    case Errc::kTimeout: return kExitStoreUnavailable;
    default: return kExitFailure;
  }
}

constexpr const char* kDbHelp = "Database URI: sqlite:PATH or mongodb://HOST[:PORT]/DATABASE[?OPTIONS] (env META_DB_URI)";

// Records a command's run in the audit log; a failure to do so is reported, and the run's own result stands
// (its writes are done: the exit code keeps saying how they went).
void AuditRun(meta_db::Store& store, std::string action, std::string target, int exit_code, std::int64_t documents,
              std::string detail) {
  try {
    meta_db::db_api::AuditCommand(store, std::move(action), std::move(target), exit_code, documents, std::move(detail));
  } catch (const std::exception& error) {
    std::cerr << "meta_db: warning: the run was not recorded in the audit log: " << error.what() << "\n";
  }
}

std::string DefaultDb() {
  const char* env = std::getenv("META_DB_URI");
  return env != nullptr && *env != '\0' ? env : "sqlite:meta_db.sqlite";
}

void ParseShard(const std::string& text, meta_db::driver::IngestOptions& options) {
  static const std::regex kShard(R"((\d+)/(\d+))");
  std::smatch match;
  if (!std::regex_match(text, match, kShard)) throw Error(Errc::kBadRequest, "--shard must look like i/N");
  options.shard_index = std::stoi(match[1]);
  options.shard_count = std::stoi(match[2]);
  if (options.shard_count < 1 || options.shard_index < 0 || options.shard_index >= options.shard_count) {
    throw Error(Errc::kBadRequest, "--shard i/N needs 0 <= i < N");
  }
}

// A job and its researcher's jobs[] are two writes on a store without transactions: a server killed between them
// left the list behind; it is made whole before serving. A store that is down now is left as it is.
void RestoreResearcherJobs(meta_db::Store& store) {
  try {
    std::int64_t restored = 0;
    store.Write([&](meta_db::Session& session) { restored = meta_db::catalog::RestoreResearcherJobs(session); });
    if (restored > 0) spdlog::warn("researchers.jobs[] restored from the jobs collection for {} researchers", restored);
  } catch (const Error& error) {
    spdlog::warn("researchers.jobs[] not verified at start: {}", error.what());
  }
}

// Jobs and hand-made cohorts are re-evaluated by the ingest that changed the catalogue (docs/jobs.md): every job
// done before it is resolved again (a new snapshot, its changes), and cases appended by hand link the data that
// arrived. A failure here leaves the catalogue as ingested; the jobs keep their last resolution.
void ReevaluateJobs(const std::string& db, bool quiet) {
  try {
    auto store = meta_db::OpenStore(db);
    const std::int64_t jobs = meta_db::catalog::ReevaluateJobs(*store);
    meta_db::catalog::RelinkCollections(*store);
    if (!quiet && jobs > 0) std::cerr << "meta_db: " << jobs << " job(s) re-evaluated\n";
  } catch (const std::exception& error) {
    std::cerr << "meta_db: warning: jobs not re-evaluated after the ingest: " << error.what() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"meta_db: a DICOM metadata catalogue (extract, ingest, query, serve)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "meta_db 0.1.0");
  std::string db = DefaultDb();

  meta_db::driver::IngestOptions ingest;
  ingest.archive = "/usr/local/share/LIDC-IDRI-DICOM/";
  std::string shard;
  bool quiet = false;
  auto* ingest_cmd = app.add_subcommand("ingest", "Extract an archive's headers into the catalogue (incremental)");
  ingest_cmd->add_option("archive", ingest.archive, "Archive root")->capture_default_str();
  ingest_cmd->add_option("--db", db, kDbHelp)->capture_default_str();
  ingest_cmd->add_option("--collection", ingest.collection, "Create/reuse this collection; a case per patient");
  ingest_cmd->add_option("--threads", ingest.threads, "Parser threads (0 = all cores)")->check(CLI::Range(0, 256));
  ingest_cmd->add_option("--profile", ingest.profile_dir, "Directory with study.txt/series.txt/instance.txt");
  ingest_cmd->add_option("--batch", ingest.batch_files, "Files per transaction")->check(CLI::Range(1, 100000));
  ingest_cmd->add_option("--shard", shard, "Ingest only shard i of N (by patient directory), e.g. 0/4");
  ingest_cmd->add_flag("--quiet", quiet, "No progress output");
  ingest_cmd->add_flag("--allow-empty", ingest.allow_empty,
                       "Accept an empty archive root although the catalogue holds files under it (they are removed)");

  std::string extract_archive, extract_profile;
  int extract_threads = 0;
  auto* extract_cmd = app.add_subcommand("extract", "Print one JSON line per DICOM instance (no database)");
  extract_cmd->add_option("archive", extract_archive, "Archive root")->required();
  extract_cmd->add_option("--profile", extract_profile, "Directory with study.txt/series.txt/instance.txt");
  extract_cmd->add_option("--threads", extract_threads, "Parser threads (0 = all cores)")->check(CLI::Range(0, 256));

  meta_db::synth::SynthOptions synth;
  auto* synth_cmd = app.add_subcommand("synth", "Generate a deterministic LIDC-IDRI-like archive");
  synth_cmd->add_option("--patients", synth.patients, "Number of patients")->check(CLI::Range(1, 100000));
  synth_cmd->add_option("--out", synth.out, "Output directory")->required();
  synth_cmd->add_flag("--small", synth.small, "Tiny pixel data (headers stay realistic)");
  synth_cmd->add_option("--seed", synth.seed, "Random seed");

  meta_db::ServeOptions serve;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the REST API and the dashboard");
  serve_cmd->add_option("--db", db, kDbHelp)->capture_default_str();
  serve_cmd->add_option("--host", serve.host, "Address to bind")->capture_default_str();
  serve_cmd->add_option("--port", serve.port, "Port (0 = any free port)")->capture_default_str();
  serve_cmd->add_option("--threads", serve.threads, "Network I/O threads (0 = one per core)");
  // Store work and transport limits (docs/api.md "Threads and limits").
  serve_cmd->add_option("--workers", serve.workers, "Threads that run store work (0 = 4 per core, at least 4)")
      ->check(CLI::Range(0, 1024));
  serve_cmd->add_option("--queue", serve.queue, "Requests waiting for a worker before 503 + Retry-After")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  serve_cmd->add_option("--max-connections", serve.max_connections, "Open connections before new ones get 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  serve_cmd->add_option("--header-timeout", serve.header_timeout_seconds,
                        "Seconds a request's headers may take (slow clients are closed)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  serve_cmd->add_option("--web-root", serve.web_root, "Directory of the built dashboard");
  // Access control (docs/security.md): the admin token, anonymous reads, rate limit, CORS.
  std::string admin_token_file;
  serve_cmd->add_option("--admin-token-file", admin_token_file,
                        "File whose first line is the admin token (else env META_DB_ADMIN_TOKEN); with one, every "
                        "request needs Authorization: Bearer <token>");
  serve_cmd->add_flag("--public-read", serve.security.public_read,
                      "With an admin token: read-only endpoints answer without a token");
  serve_cmd->add_option("--rate-limit", serve.security.rate_per_second,
                        "Requests per second per token (per client address without one); 0 = no limit")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  serve_cmd->add_option("--rate-burst", serve.security.rate_burst, "Burst size of the rate limit")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 1e6));
  serve_cmd->add_option("--cors-origin", serve.security.cors_origins,
                        "Allow this browser origin (exact, e.g. http://localhost:5173; repeatable); CORS is off "
                        "without one");
  meta_db::StoreOptions serve_store;
  serve_cmd->add_option("--query-budget-ms", serve_store.query_budget_ms,
                        "Interrupt a query after this long (answered 504)")
      ->capture_default_str()
      ->check(CLI::Range(10, 600000));

  bool repair = false;
  auto* check_cmd = app.add_subcommand("check", "Verify the catalogue's invariants (exit 1 on violations)");
  check_cmd->add_option("--db", db, kDbHelp)->capture_default_str();
  check_cmd->add_flag("--repair", repair, "Repair every violation found");
  check_cmd->add_flag("--quiet", quiet, "No progress output");

  std::string migrate_from, migrate_to;
  auto* migrate_cmd = app.add_subcommand("migrate", "Copy a catalogue between stores (idempotent, resumable)");
  migrate_cmd->add_option("--from", migrate_from, "Source database URI")->required();
  migrate_cmd->add_option("--to", migrate_to, "Target database URI")->required();
  migrate_cmd->add_flag("--quiet", quiet, "No progress output");

  auto* stats_cmd = app.add_subcommand("stats", "Print document counts as JSON");
  stats_cmd->add_option("--db", db, kDbHelp)->capture_default_str();

  meta_db::db_api::ExportCommand export_options;
  auto* export_cmd = app.add_subcommand("export", "Write a collection's or a query's rows as CSV, JSON lines or a TCIA "
                                                  "manifest, optionally with an ML split (docs/exports.md)");
  export_cmd->add_option("--db", db, kDbHelp)->capture_default_str();
  export_cmd->add_option("--collection", export_options.collection, "Export this collection (by name)");
  export_cmd->add_option("--query-file", export_options.query_file, "Export the matches of a /query body in this file");
  export_cmd->add_option("--format", export_options.format, "csv (default) | jsonl | tcia");
  export_cmd->add_option("--level", export_options.level, "studies | series (default) | instances");
  export_cmd->add_option("--fields", export_options.fields, "Comma-separated dotted paths (default: ids, UIDs, path)");
  export_cmd->add_option("--split", export_options.split, "ML split by patient, e.g. train:70,val:15,test:15");
  export_cmd->add_option("--stratify", export_options.stratify, "Field to stratify the split by");
  export_cmd->add_option("--seed", export_options.seed, "Split seed (default 0)");
  export_cmd->add_option("--out", export_options.out, "Output file, or - for stdout")->capture_default_str();
  export_cmd->add_flag("--quiet", quiet, "No summary line on stderr");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*synth_cmd) {
      std::cout << boost::json::serialize(meta_db::extractor::Dicom().write_synth_archive(synth)) << "\n";
      return 0;
    }
    if (*extract_cmd) return meta_db::driver::RunExtract(extract_archive, extract_profile, extract_threads, std::cout, std::cerr);
    if (*ingest_cmd) {
      if (!shard.empty()) ParseShard(shard, ingest);
      ingest.progress = !quiet;
      meta_db::StoreOptions store_options;
      store_options.bulk_load = true;
      // A batch command, not a request: the annotation link pass's finds must not be cut at the API's 2 s budget.
      store_options.query_budget_ms = 24 * 3600 * 1000;
      const auto summary = meta_db::driver::RunIngest([&] { return meta_db::OpenStore(db, store_options); }, ingest,
                                                      std::cerr);
      if (!quiet) meta_db::driver::PrintSummary(summary, std::cerr);
      const std::string summary_json = meta_db::driver::SummaryJson(summary);
      std::cout << summary_json << "\n";
      try {
        AuditRun(*meta_db::OpenStore(db), "ingest", ingest.archive, 0, summary.files_seen, summary_json.substr(0, 2000));
      } catch (const std::exception& error) {
        std::cerr << "meta_db: warning: the run was not recorded in the audit log: " << error.what() << "\n";
      }
      ReevaluateJobs(db, quiet);
      return 0;
    }
    if (*serve_cmd) {
      serve.security.admin_token = meta_db::db_api::LoadAdminToken(admin_token_file);
      meta_db::db_api::CheckBindPolicy(serve.host, serve.security);
      for (const std::string& origin : serve.security.cors_origins) {
        if (!origin.starts_with("http://") && !origin.starts_with("https://")) {
          throw Error(Errc::kBadRequest, "--cors-origin must be an origin such as http://localhost:5173");
        }
      }
      // A server process starts while its database is down, answers /health 503 and recovers by itself.
      serve_store.require_reachable = false;
      serve_store.connect_timeout_ms = 3000;  // a request, or /health, waits this long for a server that is down
      serve_store.must_exist = true;          // only ingest and migrate --to create a catalogue
      auto store = meta_db::OpenStore(db, serve_store);
      RestoreResearcherJobs(*store);
      serve.dictionary = [](std::string_view text) -> std::optional<meta_db::db_api::TagInfo> {
        auto entry = meta_db::extractor::Dicom().lookup_dictionary(text);
        if (!entry) return std::nullopt;
        return meta_db::db_api::TagInfo{std::move(entry->tag), std::move(entry->vr), std::move(entry->name)};
      };
      return meta_db::RunServer(*store, serve);
    }
    const auto progress = [&](const std::string& line) {
      if (!quiet) std::cerr << "\r\x1b[K" << line << std::flush;
    };
    // Whole-catalogue passes page through every collection: no per-query budget (that is for serving).
    meta_db::StoreOptions pass_options;
    pass_options.query_budget_ms = 24 * 3600 * 1000;
    pass_options.must_exist = true;
    if (*check_cmd) {
      auto store = meta_db::OpenStore(db, pass_options);
      const auto report = meta_db::driver::Check(*store, repair, progress);
      if (!quiet) std::cerr << "\n";
      if (repair) {
        AuditRun(*store, "check", meta_db::db_api::RedactUri(db), report.violations.empty() ? 0 : 1, report.documents,
                                      std::to_string(report.violations.size()) + " violations, " +
                                          std::to_string(report.repaired) + " repaired");
      }
      std::cout << boost::json::serialize(report.ToJson(1000)) << "\n";
      if (report.violations.empty()) return 0;
      if (!repair) return kExitFailure;
      // Repaired: what a second pass finds is what could not be repaired.
      const auto after = meta_db::driver::Check(*store, false, progress);
      if (!quiet) std::cerr << "\n";
      return after.violations.empty() ? 0 : kExitFailure;
    }
    if (*migrate_cmd) {
      meta_db::StoreOptions source_options = pass_options;
      source_options.read_only = migrate_from.starts_with("sqlite:");
      auto from = meta_db::OpenStore(migrate_from, source_options);
      meta_db::StoreOptions target_options = pass_options;
      target_options.bulk_load = true;
      target_options.must_exist = false;  // the target is made if need be
      auto to = meta_db::OpenStore(migrate_to, target_options);
      const auto summary = meta_db::driver::Migrate(*from, *to, progress);
      if (!quiet) std::cerr << "\n";
      AuditRun(*to, "migrate",
                                    meta_db::db_api::RedactUri(migrate_from) + " -> " + meta_db::db_api::RedactUri(migrate_to), 0, summary.written,
                                    std::to_string(summary.documents) + " documents, " +
                                        std::to_string(summary.written) + " written");
      std::cout << boost::json::serialize(boost::json::object{{"documents", summary.documents},
                                                              {"written", summary.written},
                                                              {"unchanged", summary.unchanged},
                                                              {"file_records", summary.file_records},
                                                              {"errors", summary.errors},
                                                              {"directory_digests", summary.directory_digests}})
                << "\n";
      return 0;
    }
    if (*export_cmd) {
      meta_db::StoreOptions export_store = pass_options;
      export_store.read_only = db.starts_with("sqlite:");
      auto store = meta_db::OpenStore(db, export_store);
      const std::int64_t rows = meta_db::db_api::RunExportCommand(*store, export_options);
      if (!quiet && export_options.out != "-") std::cerr << rows << " rows written to " << export_options.out << "\n";
      return 0;
    }
    if (*stats_cmd) {
      meta_db::StoreOptions stats_options;
      stats_options.must_exist = true;
      auto store = meta_db::OpenStore(db, stats_options);
      meta_db::StoreCounts counts;
      store->Read([&](meta_db::Session& session) { counts = session.Counts(); });
      boost::json::object out{{"researchers", counts.researchers}, {"collections", counts.collections},
                              {"studies", counts.studies},         {"series", counts.series},
                              {"instances", counts.instances},     {"jobs", counts.jobs},
                              {"errors", counts.errors}};
      std::cout << boost::json::serialize(out) << "\n";
      return 0;
    }
  } catch (const Error& error) {
    std::cerr << "meta_db: " << error.what() << "\n";
    return ExitCodeOf(error);
  } catch (const std::exception& error) {
    std::cerr << "meta_db: unexpected error: " << error.what() << "\n";
    return kExitFailure;
  }
  return 0;
}
