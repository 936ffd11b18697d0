// Extraction semantics on files written here with DCMTK: typed values, charsets, levels, outcomes.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>

#include "meta_extractor/extractor.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

namespace json = boost::json;
using test::TempDir;

void Put(DcmItem& item, const DcmTagKey& tag, const char* value) {
  ASSERT_TRUE(item.putAndInsertString(tag, value).good());
}

// A minimal complete CT header; tests add or remove attributes before saving.
void PutBasics(DcmDataset& ds) {
  Put(ds, DCM_SOPClassUID, UID_CTImageStorage);
  Put(ds, DCM_SOPInstanceUID, "1.2.3.4.5.3");
  Put(ds, DCM_StudyInstanceUID, "1.2.3.4.5.1");
  Put(ds, DCM_SeriesInstanceUID, "1.2.3.4.5.2");
  Put(ds, DCM_Modality, "CT");
  Put(ds, DCM_PatientID, "LIDC-IDRI-0001");
}

std::string Save(DcmFileFormat& file, const std::filesystem::path& path,
                 E_TransferSyntax xfer = EXS_LittleEndianExplicit) {
  EXPECT_TRUE(file.saveFile(path.c_str(), xfer).good());
  return path.string();
}

const json::value* Meta(const json::object& level, const char* key) {
  return level.at("metadata").as_object().if_contains(key);
}

class ValuesTest : public ::testing::Test {
 protected:
  TempDir dir_;
  Extractor extractor_{ProfileSet::Defaults()};
};

TEST_F(ValuesTest, TypedValuesPromotedFieldsAndLevels) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  PutBasics(ds);
  Put(ds, DCM_SeriesNumber, "+3004 ");
  Put(ds, DCM_InstanceNumber, "17");
  Put(ds, DCM_SliceThickness, "1.25");
  Put(ds, DCM_PixelSpacing, "0.703125\\0.703125");
  Put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
  Put(ds, DCM_StudyDate, "20000101");
  Put(ds, DCM_AcquisitionDate, "20000101");
  Put(ds, DCM_AcquisitionTime, "101010.5");
  Put(ds, DCM_AccessionNumber, "");         // empty promoted: absent at top level
  Put(ds, DCM_ReferringPhysicianName, "");  // empty profiled: null in metadata
  Put(ds, DCM_InstitutionName, "    ");     // only padding: empty as well (DCMTK: VM 0)
  Put(ds, DCM_SeriesDescription, "Recon 2: LUNG  ");
  ASSERT_TRUE(ds.putAndInsertUint16(DCM_Rows, 512).good());
  ASSERT_TRUE(ds.putAndInsertFloat64(DCM_SpiralPitchFactor, 0.9375).good());
  const ExtractResult r = extractor_.ExtractFile(Save(file, dir_.path() / "a.dcm"));
  ASSERT_EQ(r.outcome, FileOutcome::kDicom) << r.error;
  const ExtractedInstance& x = r.record;
  EXPECT_EQ(x.study.at("study_instance_uid"), "1.2.3.4.5.1");
  EXPECT_EQ(x.study.at("study_date"), "20000101");
  EXPECT_EQ(x.study.at("patient_id"), "LIDC-IDRI-0001");
  EXPECT_FALSE(x.study.contains("accession_number"));
  EXPECT_FALSE(x.study.at("metadata").as_object().contains("AccessionNumber"));
  ASSERT_NE(Meta(x.study, "ReferringPhysicianName"), nullptr);
  EXPECT_TRUE(Meta(x.study, "ReferringPhysicianName")->is_null());
  ASSERT_NE(Meta(x.study, "InstitutionName"), nullptr);
  EXPECT_TRUE(Meta(x.study, "InstitutionName")->is_null());
  EXPECT_EQ(x.series.at("series_number"), 3004);
  EXPECT_EQ(x.series.at("series_description"), "Recon 2: LUNG");
  EXPECT_EQ(x.series.at("modality"), "CT");
  EXPECT_EQ(*Meta(x.series, "SliceThickness"), 1.25);
  EXPECT_EQ(*Meta(x.series, "PixelSpacing"), (json::array{0.703125, 0.703125}));
  EXPECT_EQ(*Meta(x.series, "Rows"), 512);
  EXPECT_EQ(*Meta(x.series, "SpiralPitchFactor"), 0.9375);
  EXPECT_EQ(x.instance.at("instance_number"), 17);
  EXPECT_EQ(x.instance.at("sop_class_uid"), UID_CTImageStorage);
  EXPECT_EQ(x.instance.at("acquisition_datetime"), "20000101101010.5");
  EXPECT_EQ(*Meta(x.instance, "ImageType"), (json::array{"ORIGINAL", "PRIMARY", "AXIAL"}));
  EXPECT_EQ(*Meta(x.instance, "TransferSyntaxUID"), UID_LittleEndianExplicitTransferSyntax);
  EXPECT_EQ(Meta(x.instance, "SliceLocation"), nullptr);  // missing stays missing
  const json::object line = ToExtractLine(r);
  EXPECT_TRUE(line.contains("study") && line.contains("series") && line.contains("instance"));
  EXPECT_FALSE(line.contains("error"));
}

TEST_F(ValuesTest, SequencesToDepthThreeAndBinaryOmitted) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  PutBasics(ds);
  Put(ds, DCM_ContrastBolusAgent, "IOPAMIDOL");
  DcmItem* level1 = nullptr;
  ASSERT_TRUE(ds.findOrCreateSequenceItem(DCM_ReferencedImageSequence, level1).good());
  Put(*level1, DCM_ReferencedSOPInstanceUID, "1.2.9");
  DcmItem* level2 = nullptr;
  ASSERT_TRUE(level1->findOrCreateSequenceItem(DCM_PurposeOfReferenceCodeSequence, level2).good());
  Put(*level2, DCM_CodeValue, "121311");
  DcmItem* level3 = nullptr;
  ASSERT_TRUE(level2->findOrCreateSequenceItem(DCM_ConceptNameCodeSequence, level3).good());
  Put(*level3, DCM_CodeValue, "deep");
  DcmItem* level4 = nullptr;
  ASSERT_TRUE(level3->findOrCreateSequenceItem(DCM_ConceptCodeSequence, level4).good());
  Put(*level4, DCM_CodeValue, "too deep");
  const Uint8 bytes[4] = {1, 2, 3, 4};
  ASSERT_TRUE(ds.putAndInsertUint8Array(DcmTag(0x0009, 0x1010, DcmVR(EVR_OB)), bytes, 4).good());
  TempDir profile_dir;
  test::WriteAll(profile_dir.path() / "instance.txt",
                 "SOPInstanceUID\nReferencedImageSequence\n(0009,1010)\nContrastBolusAgent\n");
  const Extractor custom(ProfileSet::Load(profile_dir.path()));
  const ExtractResult r = custom.ExtractFile(Save(file, dir_.path() / "sq.dcm"));
  ASSERT_EQ(r.outcome, FileOutcome::kDicom) << r.error;
  const json::value* seq = Meta(r.record.instance, "ReferencedImageSequence");
  ASSERT_NE(seq, nullptr);
  const json::object& item1 = seq->as_array().at(0).as_object();
  EXPECT_EQ(item1.at("ReferencedSOPInstanceUID"), "1.2.9");
  const json::object& item2 = item1.at("PurposeOfReferenceCodeSequence").as_array().at(0).as_object();
  const json::object& item3 = item2.at("ConceptNameCodeSequence").as_array().at(0).as_object();
  EXPECT_EQ(item3.at("CodeValue"), "deep");
  EXPECT_FALSE(item3.contains("ConceptCodeSequence")) << json::serialize(*seq);
  EXPECT_EQ(Meta(r.record.instance, "0009,1010"), nullptr);                // OB: binary, omitted
  EXPECT_EQ(*Meta(r.record.instance, "ContrastBolusAgent"), "IOPAMIDOL");  // another level's tag, here by profile
}

TEST_F(ValuesTest, UndeclaredLatin1IsDecodedAndOutputIsValidUtf8) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  PutBasics(ds);
  Put(ds, DCM_PatientName, "M\xFCller^J\xF6rg");  // no SpecificCharacterSet, but Latin-1 bytes (common in practice)
  Put(ds, DCM_InstitutionName, "Clinique Saint-\xC9tienne");
  const ExtractResult r = extractor_.ExtractFile(Save(file, dir_.path() / "latin1.dcm"));
  ASSERT_EQ(r.outcome, FileOutcome::kDicom) << r.error;
  EXPECT_EQ(*Meta(r.record.study, "PatientName"), "Müller^Jörg");
  EXPECT_EQ(*Meta(r.record.study, "InstitutionName"), "Clinique Saint-Étienne");
}

TEST_F(ValuesTest, DeclaredCharsetsDecodeToExactUtf8) {
  const std::filesystem::path dir = std::filesystem::path(META_DB_PYDICOM_DATA) / "charset_files";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "pydicom charset files not installed";
  const std::pair<const char*, const char*> cases[] = {
      {"chrRuss.dcm", "Люкceмбypг"},
      {"chrFren.dcm", "Buc^Jérôme"},
      {"chrGerm.dcm", "Äneas^Rüdiger"},
      {"chrGreek.dcm", "Διονυσιος"},
      {"chrH31.dcm", "Yamada^Tarou=山田^太郎=やまだ^たろう"},
      {"chrH32.dcm", "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"},
      {"chrJapMulti.dcm", "やまだ^たろう"},
      {"chrKoreanMulti.dcm", "김희중"},
      {"chrX1.dcm", "Wang^XiaoDong=王^小東"},
      {"chrX2.dcm", "Wang^XiaoDong=王^小东"},
  };
  for (const auto& [name, expected] : cases) {
    const ExtractResult r = extractor_.ExtractFile((dir / name).string());
    ASSERT_EQ(r.outcome, FileOutcome::kDicom) << name << ": " << r.error;
    ASSERT_NE(Meta(r.record.study, "PatientName"), nullptr) << name;
    EXPECT_EQ(*Meta(r.record.study, "PatientName"), expected) << name;
  }
}

TEST_F(ValuesTest, OutcomesByContentNotByName) {
  DcmFileFormat file;
  PutBasics(*file.getDataset());
  EXPECT_EQ(extractor_.ExtractFile(Save(file, dir_.path() / "000050")).outcome, FileOutcome::kDicom);
  test::WriteAll(dir_.path() / "069.xml", "<?xml version=\"1.0\"?><LidcReadMessage/>");
  EXPECT_EQ(extractor_.ExtractFile((dir_.path() / "069.xml").string()).outcome, FileOutcome::kNotDicom);
  test::WriteAll(dir_.path() / "empty.dcm", "");
  const ExtractResult empty = extractor_.ExtractFile((dir_.path() / "empty.dcm").string());
  EXPECT_EQ(empty.outcome, FileOutcome::kError);
  EXPECT_EQ(empty.error, "empty file");
  test::WriteAll(dir_.path() / "empty", "");
  EXPECT_EQ(extractor_.ExtractFile((dir_.path() / "empty").string()).outcome, FileOutcome::kNotDicom);
  test::WriteAll(dir_.path() / "garbage.dcm", std::string(3000, '\xFF'));
  EXPECT_EQ(extractor_.ExtractFile((dir_.path() / "garbage.dcm").string()).outcome, FileOutcome::kError);
  const ExtractResult missing = extractor_.ExtractFile((dir_.path() / "nope.dcm").string());
  EXPECT_EQ(missing.outcome, FileOutcome::kError);
  EXPECT_EQ(ToExtractLine(missing).at("error"), json::value(missing.error));
  // A bare dataset (no preamble, no meta header; PS3.5 7.1) in implicit VR little endian.
  DcmFileFormat bare;
  PutBasics(*bare.getDataset());
  const std::string bare_path = (dir_.path() / "bare").string();
  ASSERT_TRUE(bare.getDataset()->saveFile(bare_path.c_str(), EXS_LittleEndianImplicit).good());
  const ExtractResult r = extractor_.ExtractFile(bare_path);
  EXPECT_EQ(r.outcome, FileOutcome::kDicom) << r.error;
  EXPECT_EQ(r.record.instance.at("sop_instance_uid"), "1.2.3.4.5.3");
}

TEST_F(ValuesTest, FifoIsAnErrorNotAHang) {
  const std::filesystem::path fifo = dir_.path() / "pipe.dcm";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const ExtractResult r = extractor_.ExtractFile(fifo.string());  // must not block waiting for a writer
  EXPECT_EQ(r.outcome, FileOutcome::kError);
  EXPECT_EQ(r.error, "not a regular file");
}

TEST_F(ValuesTest, MissingUidIsIncompleteAndNamed) {
  DcmFileFormat file;
  PutBasics(*file.getDataset());
  delete file.getDataset()->remove(DCM_SeriesInstanceUID);  // DCMTK hands ownership of the removed element back
  const ExtractResult r = extractor_.ExtractFile(Save(file, dir_.path() / "noseries.dcm"));
  EXPECT_EQ(r.outcome, FileOutcome::kIncomplete);
  EXPECT_EQ(r.error, "missing SeriesInstanceUID");
  EXPECT_EQ(r.record.study.at("study_instance_uid"), "1.2.3.4.5.1");
}

TEST_F(ValuesTest, LongHeadersAreReadCompletely) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  PutBasics(ds);
  const std::string long_text(40000, 'x');  // beyond the first 16 KiB read: the reader must grow
  Put(ds, DCM_RETIRED_StudyComments, long_text.c_str());
  Put(ds, DCM_ImageComments, std::string(200000, 'y').c_str());  // longer than any value we keep
  Put(ds, DCM_WindowCenter, "40");
  const std::vector<Uint16> pixels(512 * 512, 7);
  ASSERT_TRUE(ds.putAndInsertUint16Array(DCM_PixelData, pixels.data(), pixels.size()).good());
  const ExtractResult r = extractor_.ExtractFile(Save(file, dir_.path() / "long.dcm"));
  ASSERT_EQ(r.outcome, FileOutcome::kDicom) << r.error;
  EXPECT_EQ(*Meta(r.record.instance, "WindowCenter"), 40.0);
}

}  // namespace
}  // namespace meta_db::extractor
