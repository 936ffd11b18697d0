// The ML split's assignment on its own (no I/O): whole patients, proportions per stratum, seeds, SplitMix64's
// published sequence, and the export options' 400s.
#include "db_api/export.hpp"
#include "db_api/export_split.hpp"

#include "common/error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>

namespace meta_db::db_api {
namespace {

SplitSpec Spec(std::uint64_t seed) {
  return SplitSpec{{{"train", 70}, {"val", 15}, {"test", 15}}, "metadata.Manufacturer", seed};
}

// `n` patients spread unevenly over four strata (one without a value).
std::map<std::string, PatientStrata> Patients(int n) {
  std::map<std::string, PatientStrata> patients;
  const char* strata[] = {"GE MEDICAL SYSTEMS", "SIEMENS", "TOSHIBA", ""};
  for (int i = 0; i < n; ++i) {
    PatientStrata& p = patients["LIDC-IDRI-" + std::to_string(1000 + i)];
    const std::string value = strata[(i * 7) % 11 % 4];
    if (!value.empty()) p.values[value] = 3;
    if (i % 5 == 0) p.values["PHILIPS"] = 1;  // a minority value: the patient's stratum stays its most common one
  }
  return patients;
}

TEST(SplitMix64, MatchesTheReferenceSequence) {
  // The first outputs for seed 1234567 of the reference implementation (Vigna's splitmix64.c).
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.Next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.Next(), 3203168211198807973ULL);
  EXPECT_EQ(rng.Next(), 9817491932198370423ULL);
}

TEST(AssignSplits, WholePatientsWithinOnePerStratum) {
  for (int n : {1, 2, 7, 20, 101, 1000}) {
    const auto patients = Patients(n);
    const auto assignment = AssignSplits(Spec(42), patients);
    ASSERT_EQ(assignment.size(), patients.size()) << n;
    std::map<std::string, std::map<std::string, int>> per_stratum;
    std::map<std::string, int> stratum_size;
    for (const auto& [patient, strata] : patients) {
      std::string top;
      std::int64_t best = 0;
      for (const auto& [value, count] : strata.values) {
        if (count > best) top = value, best = count;
      }
      ++per_stratum[top][assignment.at(patient)];
      ++stratum_size[top];
    }
    std::map<std::string, int> total;
    for (const auto& [stratum, counts] : per_stratum) {
      for (const auto& [part, weight] : std::map<std::string, int>{{"train", 70}, {"val", 15}, {"test", 15}}) {
        const double target = stratum_size[stratum] * weight / 100.0;
        const int got = counts.count(part) ? counts.at(part) : 0;
        EXPECT_LE(std::abs(got - target), 1.0) << n << " " << stratum << " " << part;
        total[part] += got;
      }
    }
    for (const auto& [part, weight] : std::map<std::string, int>{{"train", 70}, {"val", 15}, {"test", 15}}) {
      EXPECT_LE(std::abs(total[part] - n * weight / 100.0), static_cast<double>(per_stratum.size())) << n << part;
    }
  }
}

TEST(AssignSplits, SameSeedSameSplitOtherSeedOther) {
  const auto patients = Patients(200);
  EXPECT_EQ(AssignSplits(Spec(42), patients), AssignSplits(Spec(42), patients));
  EXPECT_NE(AssignSplits(Spec(42), patients), AssignSplits(Spec(43), patients));
}

TEST(ExportSpec, BadOptionsNameTheParameter) {
  const auto parameter_of = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::kBadRequest);
      return std::string(error.details().at("parameter").as_string());
    }
    return std::string("(no error)");
  };
  const std::optional<std::string> none;
  EXPECT_EQ(parameter_of([&] { ParseExportSpec("xml", none, none, none, none, none); }), "format");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, "patients", none, none, none, none); }), "level");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, "_id,nope", none, none, none); }), "fields");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, "metadata.$x", none, none, none); }), "fields");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, none, "train:70", none, none); }), "split");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, none, "a:1,a:2", none, none); }), "split");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, none, "a:1,b:2", none, "x1"); }), "seed");
  EXPECT_EQ(parameter_of([&] { ParseExportSpec(none, none, none, none, "modality", none); }), "stratify");
  const ExportSpec ok = ParseExportSpec("jsonl", "instances", "_id,metadata.ImageType,path", "train:8,test:2",
                                        "metadata.Manufacturer", "7");
  EXPECT_EQ(ok.level, Kind::kInstances);
  EXPECT_EQ(ok.fields.size(), 3u);
  ASSERT_TRUE(ok.split);
  EXPECT_EQ(ok.split->seed, 7u);
}

}  // namespace
}  // namespace meta_db::db_api
