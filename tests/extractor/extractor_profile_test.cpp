// Tag profiles: shipped defaults (and their compiled-in copy), overrides, (gggg,eeee) syntax, errors with file:line.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/error.hpp"
#include "meta_extractor/tag_profile.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

bool Has(const TagProfile& profile, const std::string& keyword) {
  return std::any_of(profile.tags.begin(), profile.tags.end(),
                     [&](const ProfileTag& t) { return t.keyword == keyword; });
}

TEST(Profiles, DefaultsCoverWhatLidcResearchersFilterOn) {
  const ProfileSet set = ProfileSet::Defaults();
  for (const char* k :
       {"StudyInstanceUID", "StudyDate", "StudyTime", "AccessionNumber", "PatientID", "PatientName", "PatientSex",
        "PatientAge", "PatientBirthDate", "StudyDescription", "StudyID", "ReferringPhysicianName", "InstitutionName"}) {
    EXPECT_TRUE(Has(set.study, k)) << k;
  }
  for (const char* k : {"SeriesInstanceUID",
                        "SeriesNumber",
                        "SeriesDescription",
                        "Modality",
                        "BodyPartExamined",
                        "Manufacturer",
                        "ManufacturerModelName",
                        "ConvolutionKernel",
                        "SliceThickness",
                        "KVP",
                        "PixelSpacing",
                        "Rows",
                        "Columns",
                        "SeriesDate",
                        "SeriesTime",
                        "ProtocolName",
                        "PatientPosition",
                        "ContrastBolusAgent",
                        "SpacingBetweenSlices",
                        "ImageOrientationPatient",
                        "FrameOfReferenceUID",
                        "SoftwareVersions",
                        "StationName"}) {
    EXPECT_TRUE(Has(set.series, k)) << k;
  }
  for (const char* k :
       {"SOPInstanceUID", "SOPClassUID", "InstanceNumber", "AcquisitionDateTime", "AcquisitionDate", "AcquisitionTime",
        "ImagePositionPatient", "SliceLocation", "ImageType", "XRayTubeCurrent", "Exposure", "WindowCenter",
        "WindowWidth", "RescaleIntercept", "RescaleSlope", "TransferSyntaxUID"}) {
    EXPECT_TRUE(Has(set.instance, k)) << k;
  }
}

bool SameTags(const TagProfile& a, const TagProfile& b) {
  return std::equal(a.tags.begin(), a.tags.end(), b.tags.begin(), b.tags.end(),
                    [](const ProfileTag& x, const ProfileTag& y) {
                      return x.group == y.group && x.element == y.element && x.keyword == y.keyword;
                    });
}

TEST(Profiles, ShippedFilesEqualCompiledInDefaults) {
  const ProfileSet shipped = ProfileSet::Load(META_DB_PROFILES_DIR);
  const ProfileSet defaults = ProfileSet::Defaults();
  EXPECT_TRUE(SameTags(shipped.study, defaults.study));
  EXPECT_TRUE(SameTags(shipped.series, defaults.series));
  EXPECT_TRUE(SameTags(shipped.instance, defaults.instance));
}

TEST(Profiles, OverrideDirectoryReplacesOnlyTheLevelsItHas) {
  test::TempDir dir;
  test::WriteAll(dir.path() / "series.txt",
                 "# custom\n\nModality   # trailing comment\n(0018,0050)\n(0019,10a0)\n0029,1008\nModality\n");
  const ProfileSet set = ProfileSet::Load(dir.path());
  ASSERT_EQ(set.series.tags.size(), 4u);  // a repeated tag is kept once
  EXPECT_EQ(set.series.tags[0].keyword, "Modality");
  EXPECT_EQ(set.series.tags[1].keyword, "SliceThickness");
  EXPECT_EQ(set.series.tags[1].group, 0x0018);
  EXPECT_EQ(set.series.tags[1].element, 0x0050);
  EXPECT_EQ(set.series.tags[2].keyword, "0019,10a0");  // private: keyed by tag
  EXPECT_EQ(set.series.tags[3].keyword, "0029,1008");
  EXPECT_TRUE(SameTags(set.study, ProfileSet::Defaults().study));
}

void ExpectError(const std::string& text, const std::string& expected) {
  test::TempDir dir;
  test::WriteAll(dir.path() / "instance.txt", text);
  try {
    ProfileSet::Load(dir.path());
    ADD_FAILURE() << "no error for: " << text;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUnprocessable);
    EXPECT_EQ(std::string(e.what()), (dir.path() / "instance.txt").string() + expected);
  }
}

TEST(Profiles, ErrorsNameFileAndLine) {
  ExpectError("SOPInstanceUID\n\n# c\nFoo\n", ":4: unknown DICOM keyword 'Foo'");
  ExpectError("(0008,00zz)\n", ":1: malformed tag '(0008,00zz)' (expected (gggg,eeee))");
  ExpectError("Rows\n(0008,0018\n", ":2: malformed tag '(0008,0018' (expected (gggg,eeee))");
  ExpectError("Slice Thickness\n", ":1: unknown DICOM keyword 'Slice Thickness'");
  ExpectError("modality\n", ":1: unknown DICOM keyword 'modality'");  // keywords are case-sensitive
  EXPECT_THROW(ProfileSet::Load("/nonexistent/profile/dir"), Error);
}

}  // namespace
}  // namespace meta_db::extractor
