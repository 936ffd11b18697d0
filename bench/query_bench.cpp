// Query latency benchmark: builds an LIDC-IDRI-shaped catalogue through the store API (studies, series with
// instance lists, instances) and reports p50/p99/max of representative filters, each with its total.
#include "query/query.hpp"
#include "store/store.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>
#include <ctime>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using meta_db::Kind;

std::string Hex(std::uint64_t kind, std::uint64_t n) {
  char buf[25];
  std::snprintf(buf, sizeof buf, "%08llx%016llx", static_cast<unsigned long long>(kind), static_cast<unsigned long long>(n));
  return buf;
}

struct Counts {
  std::uint64_t studies = 0, series = 0, instances = 0;
};

// One patient: a CT study (80-300 slices) and, for ~15%, an extra CR/DX study, as `meta_db synth` writes.
void AddPatient(meta_db::Session& s, int p, std::mt19937_64& rng, Counts& n) {
  static const char* kMakers[] = {"SIEMENS", "GE MEDICAL SYSTEMS", "TOSHIBA", "Philips"};
  static const char* kModels[] = {"Sensation 16", "LightSpeed16", "Aquilion", "Brilliance 64"};
  static const char* kKernels[] = {"B30f", "B45f", "STANDARD", "LUNG", "FC01", "FC51", "B", "BONE"};
  static const double kThick[] = {0.625, 1.0, 1.25, 2.0, 2.5, 3.0, 5.0};
  const int extra = (rng() % 100) < 15 ? 1 : 0;
  char patient[32];
  std::snprintf(patient, sizeof patient, "LIDC-IDRI-%04d", p);
  for (int st = 0; st <= extra; ++st) {
    const std::string study_id = Hex(1, ++n.studies);
    const bool ct = st == 0;
    const int year = 1998 + static_cast<int>(rng() % 12);
    char date[16];
    std::snprintf(date, sizeof date, "%04d-%02d-%02d", year, 1 + static_cast<int>(rng() % 12), 1 + static_cast<int>(rng() % 28));
    const std::string series_id = Hex(2, ++n.series);
    const int maker = static_cast<int>(rng() % 4);
    const std::string modality = ct ? "CT" : (rng() % 2 ? "CR" : "DX");
    const int count = ct ? 80 + static_cast<int>(rng() % 221) : 1 + static_cast<int>(rng() % 2);
    const std::string kernel = kKernels[rng() % 8];
    const double thickness = kThick[rng() % 7];
    json::array instance_ids;
    for (int i = 1; i <= count; ++i) {
      const std::string iid = Hex(3, ++n.instances);
      instance_ids.push_back(json::string(iid));
      s.Insert(Kind::kInstances,
               json::object{{"_id", iid}, {"sop_instance_uid", "1.3.6.1.4.1.14519.5.2.1." + std::to_string(n.instances)},
                            {"series_id", series_id}, {"sop_class_uid", "1.2.840.10008.5.1.4.1.1.2"},
                            {"instance_number", i}, {"acquisition_datetime", std::string(date) + "T10:00:00Z"},
                            {"metadata", json::object{{"SliceLocation", -300.0 + i * thickness},
                                                      {"ImagePositionPatient", json::array{-180.0, -180.0, -300.0 + i * thickness}},
                                                      {"Rows", 512}, {"Columns", 512}, {"InstanceNumber", i}}}});
    }
    const std::string description = ct ? "CT CHEST " + kernel + " " + std::to_string(thickness).substr(0, 4) + "mm" : "CHEST PA";
    s.Insert(Kind::kSeries,
             json::object{
                 {"_id", series_id}, {"series_instance_uid", "1.3.6.1.4.1.14519.5.2.2." + std::to_string(n.series)},
                 {"study_id", study_id}, {"patient_id", patient}, {"accession_number", "A" + std::to_string(n.studies)},
                 {"series_number", 1000 + st}, {"modality", modality}, {"series_description", description},
                 {"num_instances", count}, {"instances", instance_ids},
                 {"metadata", json::object{{"Manufacturer", kMakers[maker]}, {"ManufacturerModelName", kModels[maker]},
                                           {"BodyPartExamined", "CHEST"}, {"ConvolutionKernel", kernel},
                                           {"SliceThickness", thickness}, {"SeriesDate", date},
                                           {"ImageType", json::array{"ORIGINAL", "PRIMARY", "AXIAL"}},
                                           {"PixelSpacing", json::array{0.703125, 0.703125}}, {"KVP", 120}}},
                 {"_search_text", modality + " CHEST " + description + " " + kMakers[maker] + " " + kModels[maker]}});
    s.Insert(Kind::kStudies,
             json::object{{"_id", study_id}, {"study_instance_uid", "1.3.6.1.4.1.14519.5.2.3." + std::to_string(n.studies)},
                          {"patient_id", patient}, {"accession_number", "A" + std::to_string(n.studies)},
                          {"study_date", date},
                          {"series", json::array{json::object{{"series_id", series_id}, {"modality", modality},
                                                              {"num_instances", count}}}},
                          {"metadata", json::object{{"StudyDescription", ct ? "CT CHEST" : "XR CHEST"},
                                                    {"PatientSex", rng() % 2 ? "M" : "F"},
                                                    {"InstitutionName", "Site " + std::to_string(rng() % 7)}}}});
  }
}

void Generate(meta_db::Store& store, int patients) {
  std::mt19937_64 rng(42);
  Counts n;
  for (int first = 1; first <= patients; first += 100) {
    store.Write([&](meta_db::Session& s) {
      for (int p = first; p < first + 100 && p <= patients; ++p) AddPatient(s, p, rng, n);
    });
  }
  std::cerr << "generated " << patients << " patients: " << n.studies << " studies, " << n.series << " series, "
            << n.instances << " instances\n";
}

struct Bench {
  std::string name;
  Kind kind;
  meta_db::query::Query query;
};

meta_db::query::Query Make(const char* body) {
  return meta_db::query::ParseQueryRequest(json::parse(body).as_object());
}

struct Latency {
  double p50 = 0, p99 = 0, max = 0;
  double cpu_p50 = 0, cpu_p99 = 0;  // thread CPU time: robust against other processes on a shared machine
  std::int64_t total = 0;
};

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Latency Measure(meta_db::Store& store, Kind kind, const meta_db::query::Query& query, int runs) {
  std::vector<double> ms, cpu;
  Latency out;
  for (int r = 0; r < runs + 10; ++r) {
    const double c0 = ThreadCpuMs();
    const auto t0 = std::chrono::steady_clock::now();
    store.Read([&](meta_db::Session& s) { out.total = s.Find(kind, query).total; });
    const double d = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (r >= 10) {  // the first runs warm the page cache and statement caches
      ms.push_back(d);
      cpu.push_back(ThreadCpuMs() - c0);
    }
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  const auto at = [](const std::vector<double>& v, double q) {
    return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
  };
  out.p50 = at(ms, 0.5);
  out.p99 = at(ms, 0.99);
  out.max = ms.back();
  out.cpu_p50 = at(cpu, 0.5);
  out.cpu_p99 = at(cpu, 0.99);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string db;
  int patients = 1000, runs = 300;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--db") db = argv[i + 1];
    else if (flag == "--patients") patients = std::stoi(argv[i + 1]);
    else if (flag == "--runs") runs = std::stoi(argv[i + 1]);
  }
  if (db.empty()) {
    std::cerr << "usage: query_bench --db FILE [--patients N] [--runs N]\n";
    return 2;
  }
  const bool fresh = !std::filesystem::exists(db);
  auto store = meta_db::OpenStore("sqlite:" + db);
  if (fresh) Generate(*store, patients);

  std::vector<Bench> benches{
      {"series: promoted equality (modality + manufacturer)", Kind::kSeries,
       Make(R"({"query": {"modality": "CT", "metadata.Manufacturer": "SIEMENS"}})")},
      {"studies: date range, sorted -study_date", Kind::kStudies,
       Make(R"({"query": {"study_date": {"$gte": "2005-01-01", "$lt": "2006-01-01"}}, "sort": "-study_date"})")},
      {"series: slice thickness range + manufacturer $in", Kind::kSeries,
       Make(R"({"query": {"metadata.SliceThickness": {"$gte": 1, "$lte": 2.5}, "metadata.Manufacturer": {"$in": ["SIEMENS", "GE MEDICAL SYSTEMS"]}}})")},
      {"series: metadata.ConvolutionKernel regex", Kind::kSeries,
       Make(R"({"query": {"metadata.ConvolutionKernel": {"$regex": "^b4", "$options": "i"}}})")},
      {"series: q= free text", Kind::kSeries, Make(R"({"q": "lung siemens"})")},
      {"instances: of one series, by instance_number", Kind::kInstances,
       Make(R"({"query": {"series_id": "000000020000000000000007"}, "sort": "instance_number", "limit": 500})")},
      {"series: non-promoted metadata.KVP = 120", Kind::kSeries, Make(R"({"query": {"metadata.KVP": 120}})")},
      {"series: $and of 3 conditions", Kind::kSeries,
       Make(R"({"query": {"$and": [{"modality": "CT"}, {"metadata.Manufacturer": "GE MEDICAL SYSTEMS"}, {"metadata.SliceThickness": {"$lte": 1.25}}]}})")},
  };
  std::printf("%-50s | %-22s | %8s | %-25s | %-15s\n", "query (limit 50 unless noted); ms", "page only: p50 p99 max",
              "total", "page + total: p50 p99 max", "CPU: p50 p99");
  for (const Bench& b : benches) {
    std::printf("%-50s |", b.name.c_str());
    for (const bool with_total : {false, true}) {
      meta_db::query::Query q = b.query;
      q.count_total = with_total;
      const Latency l = Measure(*store, b.kind, q, runs);
      if (with_total) std::printf(" %8lld |", static_cast<long long>(l.total));
      std::printf("  %6.2f %6.2f %7.2f |", l.p50, l.p99, l.max);
      if (with_total) std::printf("  %6.2f %6.2f", l.cpu_p50, l.cpu_p99);
    }
    std::printf("\n");
  }
  return 0;
}
