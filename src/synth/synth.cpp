// Deterministic LIDC-IDRI-like archive writer: one DCMTK dataset per series, only per-slice attributes change.
#include "synth/synth.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>

#include <array>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/split_mix.hpp"
#include "synth/lidc_xml.hpp"
#include "synth/geometry_defects.hpp"

namespace meta_db::synth {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The archive's draws (common/split_mix.hpp), plus picking from a table.
class Rng : public SplitMix64 {
 public:
  using SplitMix64::SplitMix64;
  template <typename T, std::size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[Next() % N];
  }
};

std::uint64_t Mix(std::uint64_t a, std::uint64_t b) { return Rng(a * 0x9E3779B97F4A7C15ULL ^ b).Next(); }

// "2.25.<integer>" UIDs (PS3.5 B.2) derived from the seed and the object's indices: stable and unique per archive.
std::string Uid(std::uint64_t seed, std::uint64_t kind, std::uint64_t a, std::uint64_t b = 0) {
  const std::uint64_t high = Mix(Mix(Mix(seed, kind), a), b) | 1;
  const std::uint64_t low = Mix(high, 0x5EED) % 10'000'000'000'000'000'000ULL;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "2.25.%llu%019llu", static_cast<unsigned long long>(high),
                static_cast<unsigned long long>(low));
  return buffer;
}

struct Vendor {
  const char* manufacturer;
  const char* model;
  std::array<const char*, 3> kernels;
  const char* software;
  const char* station;
};
const std::array<Vendor, 4> kVendors = {{
    {"GE MEDICAL SYSTEMS", "LightSpeed16", {"STANDARD", "LUNG", "BONE"}, "LightSpeedverrel", "CT01_OC0"},
    {"SIEMENS", "Sensation 16", {"B30f", "B45f", "B70f"}, "syngo CT 2007S", "CTAWP00001"},
    {"Philips", "Brilliance 16P", {"B", "C", "D"}, "2.3.0", "HOST-PHILIPS"},
    {"TOSHIBA", "Aquilion", {"FC01", "FC10", "FC51"}, "V4.51ER004", "TSX101A"},
}};
constexpr const char* kAxialOrientation = "1.000000\\0.000000\\0.000000\\0.000000\\1.000000\\0.000000";
constexpr std::array<double, 7> kThickness = {0.625, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0};

// Everything that is fixed for one series.
struct SeriesPlan {
  int patient = 0;
  int study_index = 0;  // 0 = the CT study, 1 = the extra CR/DX study
  std::string modality, study_uid, series_uid, frame_uid, study_date, study_time, accession;
  int images = 0, series_number = 0, vendor = 0, kvp = 120, rows = 512;
  double thickness = 1.25, pixel_spacing = 0.7, z0 = 0;
  std::string kernel, sex, age;
};

struct Counts {
  int studies = 0, series = 0, instances = 0, xml = 0, zero = 0, garbage = 0, truncated = 0;
  int ct = 0, cr = 0, dx = 0;
  LidcExpected lidc;
  json::object qc_flags;  // series UID -> expected qc.flags
};

std::string Date(Rng& rng) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d", rng.Uniform(1998, 2011), rng.Uniform(1, 12), rng.Uniform(1, 28));
  return buffer;
}

std::string Time(int seconds_of_day) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%02d%02d%02d.%06d", (seconds_of_day / 3600) % 24, (seconds_of_day / 60) % 60,
                seconds_of_day % 60, 0);
  return buffer;
}

std::string Fixed(double value, int digits = 6) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

void Put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  if (item.putAndInsertString(tag, value.c_str()).bad()) {
    throw Error(Errc::kInternal, "synth: cannot set " + std::string(DcmTag(tag).getTagName()));
  }
}

void PutPrivate(DcmItem& item, Uint16 group, Uint16 element, DcmEVR vr, const char* value) {
  if (item.putAndInsertString(DcmTag(group, element, DcmVR(vr)), value).bad()) {
    throw Error(Errc::kInternal, "synth: cannot set a private element");
  }
}

SeriesPlan PlanCt(std::uint64_t seed, int patient, bool small) {
  Rng rng(Mix(seed, static_cast<std::uint64_t>(patient)));
  SeriesPlan plan;
  plan.patient = patient;
  plan.modality = "CT";
  plan.study_uid = Uid(seed, 1, static_cast<std::uint64_t>(patient), 0);
  plan.series_uid = Uid(seed, 2, static_cast<std::uint64_t>(patient), 0);
  plan.frame_uid = Uid(seed, 3, static_cast<std::uint64_t>(patient), 0);
  plan.study_date = Date(rng);
  plan.study_time = Time(rng.Uniform(7 * 3600, 18 * 3600));
  char accession[24];
  std::snprintf(accession, sizeof accession, "A%06d%02d", patient, 1);
  plan.accession = accession;
  plan.images = rng.Uniform(80, 300);
  plan.series_number = rng.Uniform(3000, 3999);
  plan.vendor = static_cast<int>(rng.Next() % kVendors.size());
  plan.kvp = rng.Uniform(0, 3) == 0 ? 140 : 120;
  plan.thickness = rng.Pick(kThickness);
  plan.pixel_spacing = std::round(rng.Real(0.5, 0.9) * 1e6) / 1e6;
  plan.z0 = std::round(rng.Real(-50.0, 50.0) * 100) / 100;
  plan.kernel = kVendors[static_cast<std::size_t>(plan.vendor)].kernels[rng.Next() % 3];
  plan.sex = (rng.Next() & 1) ? "M" : "F";
  char age[8];
  std::snprintf(age, sizeof age, "%03dY", rng.Uniform(35, 85));
  plan.age = age;
  plan.rows = small ? 16 : 512;
  return plan;
}

// ~15% of patients also have a chest radiograph study (CR or DX, 1-2 images), as in LIDC-IDRI.
bool PlanExtra(std::uint64_t seed, const SeriesPlan& ct, SeriesPlan& plan) {
  Rng rng(Mix(Mix(seed, static_cast<std::uint64_t>(ct.patient)), 0xC4));
  if (rng.Uniform(0, 99) >= 15) return false;
  plan = ct;
  plan.study_index = 1;
  plan.modality = (rng.Next() & 1) ? "DX" : "CR";
  plan.study_uid = Uid(seed, 1, static_cast<std::uint64_t>(ct.patient), 1);
  plan.series_uid = Uid(seed, 2, static_cast<std::uint64_t>(ct.patient), 1);
  plan.frame_uid = Uid(seed, 3, static_cast<std::uint64_t>(ct.patient), 1);
  plan.study_date = Date(rng);
  plan.accession[plan.accession.size() - 1] = '2';
  plan.images = rng.Uniform(1, 2);
  plan.series_number = 1;
  return true;
}

void PutPatientStudy(DcmItem& ds, const SeriesPlan& plan) {
  char patient_id[24];
  std::snprintf(patient_id, sizeof patient_id, "LIDC-IDRI-%04d", plan.patient);
  Put(ds, DCM_SpecificCharacterSet, "ISO_IR 100");
  Put(ds, DCM_PatientName, patient_id);  // LIDC-IDRI is de-identified: the name is the id
  Put(ds, DCM_PatientID, patient_id);
  Put(ds, DCM_PatientBirthDate, "");
  Put(ds, DCM_PatientSex, plan.sex);
  Put(ds, DCM_PatientAge, plan.age);
  Put(ds, DCM_PatientIdentityRemoved, "YES");
  Put(ds, DCM_DeidentificationMethod, "DCM:113100/113105/113107/113108/113109/113111");
  Put(ds, DCM_StudyInstanceUID, plan.study_uid);
  Put(ds, DCM_StudyDate, plan.study_date);
  Put(ds, DCM_StudyTime, plan.study_time);
  Put(ds, DCM_AccessionNumber, plan.accession);
  Put(ds, DCM_StudyID, std::to_string(plan.patient * 10 + plan.study_index));
  Put(ds, DCM_StudyDescription, plan.modality == "CT" ? "CT CHEST W/O CONTRAST" : "CHEST PA AND LATERAL");
  Put(ds, DCM_ReferringPhysicianName, "");
  Put(ds, DCM_InstitutionName, "LIDC Synthetic Site " + std::to_string(plan.patient % 7 + 1));
}

void PutSeries(DcmItem& ds, const SeriesPlan& plan) {
  const Vendor& vendor = kVendors[static_cast<std::size_t>(plan.vendor)];
  const bool ct = plan.modality == "CT";
  Put(ds, DCM_SOPClassUID,
      ct ? UID_CTImageStorage
         : (plan.modality == "CR" ? UID_ComputedRadiographyImageStorage : UID_DigitalXRayImageStorageForPresentation));
  Put(ds, DCM_ImageType, ct ? "ORIGINAL\\PRIMARY\\AXIAL" : "ORIGINAL\\PRIMARY");
  Put(ds, DCM_Modality, plan.modality);
  Put(ds, DCM_SeriesInstanceUID, plan.series_uid);
  Put(ds, DCM_SeriesNumber, std::to_string(plan.series_number));
  Put(ds, DCM_SeriesDate, plan.study_date);
  Put(ds, DCM_SeriesTime, plan.study_time);
  Put(ds, DCM_SeriesDescription, ct ? "Recon 2: " + plan.kernel : "PA");
  Put(ds, DCM_BodyPartExamined, "CHEST");
  Put(ds, DCM_Manufacturer, vendor.manufacturer);
  Put(ds, DCM_ManufacturerModelName, vendor.model);
  Put(ds, DCM_SoftwareVersions, vendor.software);
  Put(ds, DCM_StationName, vendor.station);
  Put(ds, DCM_FrameOfReferenceUID, plan.frame_uid);
  Put(ds, DCM_PatientPosition, ct ? "FFS" : "");
  Put(ds, DCM_KVP, std::to_string(ct ? plan.kvp : 110));
  Put(ds, DCM_ProtocolName, ct ? "CHEST LOW DOSE" : "CHEST");
  if (ct) {
    Put(ds, DCM_ConvolutionKernel, plan.kernel);
    Put(ds, DCM_SliceThickness, Fixed(plan.thickness, 3));
    Put(ds, DCM_SpacingBetweenSlices, Fixed(plan.thickness, 3));
    Put(ds, DCM_DataCollectionDiameter, "500.000000");
    Put(ds, DCM_ReconstructionDiameter, Fixed(plan.pixel_spacing * 512, 3));
    Put(ds, DCM_GantryDetectorTilt, "0.000000");
    Put(ds, DCM_ContrastBolusAgent, "");
    Put(ds, DCM_ImageOrientationPatient, kAxialOrientation);
    Put(ds, DCM_XRayTubeCurrent, std::to_string(80 + plan.patient % 300));
    Put(ds, DCM_Exposure, std::to_string(5 + plan.patient % 40));
  }
  Put(ds, DCM_PixelSpacing, Fixed(plan.pixel_spacing) + "\\" + Fixed(plan.pixel_spacing));
}

// Vendor private blocks (PS3.5 7.8.1): a private creator in (gggg,0010) reserving elements gggg,10xx.
void PutPrivateBlocks(DcmItem& ds, const SeriesPlan& plan) {
  if (plan.vendor == 0) {
    PutPrivate(ds, 0x0009, 0x0010, EVR_LO, "GEMS_IDEN_01");
    PutPrivate(ds, 0x0009, 0x1001, EVR_LO, "GE_GENESIS_FF");
    PutPrivate(ds, 0x0009, 0x1002, EVR_SH, "CT01");
    PutPrivate(ds, 0x0009, 0x1004, EVR_SH, "HiSpeed CT");
  } else if (plan.vendor == 1) {
    PutPrivate(ds, 0x0019, 0x0010, EVR_LO, "SIEMENS CT VA0  COAD");
    PutPrivate(ds, 0x0019, 0x1090, EVR_DS, "1.0");
    PutPrivate(ds, 0x0019, 0x1092, EVR_DS, "0.5");
    PutPrivate(ds, 0x0029, 0x0010, EVR_LO, "SIEMENS CSA HEADER");
    PutPrivate(ds, 0x0029, 0x1008, EVR_CS, "IMAGE NUM 4");
    PutPrivate(ds, 0x0029, 0x1009, EVR_LO, "20100925");
  }
}

void PutPixels(DcmItem& ds, const SeriesPlan& plan) {
  const int n = plan.rows;
  Put(ds, DCM_SamplesPerPixel, "1");
  Put(ds, DCM_PhotometricInterpretation, "MONOCHROME2");
  Put(ds, DCM_Rows, std::to_string(n));
  Put(ds, DCM_Columns, std::to_string(n));
  Put(ds, DCM_BitsAllocated, "16");
  Put(ds, DCM_BitsStored, "16");
  Put(ds, DCM_HighBit, "15");
  Put(ds, DCM_PixelRepresentation, "1");
  Put(ds, DCM_WindowCenter, "-600");
  Put(ds, DCM_WindowWidth, "1600");
  Put(ds, DCM_RescaleIntercept, "-1024");
  Put(ds, DCM_RescaleSlope, "1");
  Put(ds, DCM_RescaleType, "HU");
  // A plain elliptic "body" phantom: soft tissue inside, air outside; enough for viewers, cheap to make.
  std::vector<Uint16> pixels(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const double dx = (x - n / 2.0) / (0.45 * n), dy = (y - n / 2.0) / (0.35 * n);
      pixels[static_cast<std::size_t>(y * n + x)] = (dx * dx + dy * dy < 1.0) ? 1064 : 24;
    }
  }
  if (ds.putAndInsertUint16Array(DCM_PixelData, pixels.data(), static_cast<unsigned long>(pixels.size())).bad()) {
    throw Error(Errc::kInternal, "synth: cannot set Pixel Data");
  }
}

// `number` and `position`: the slice's InstanceNumber and the slice index its position is taken from (0: `index`).
void PutSlice(DcmItem& ds, const SeriesPlan& plan, std::uint64_t seed, int index, int number = 0, int position = 0) {
  Put(ds, DCM_SOPInstanceUID,
      Uid(seed, 4, static_cast<std::uint64_t>(plan.patient) * 16 + static_cast<std::uint64_t>(plan.study_index),
          static_cast<std::uint64_t>(index)));
  Put(ds, DCM_InstanceNumber, std::to_string(number != 0 ? number : index));
  const int start = std::stoi(plan.study_time.substr(0, 2)) * 3600 + std::stoi(plan.study_time.substr(2, 2)) * 60;
  Put(ds, DCM_AcquisitionDate, plan.study_date);
  Put(ds, DCM_AcquisitionTime, Time(start + 60 + index / 2));
  Put(ds, DCM_ContentDate, plan.study_date);
  Put(ds, DCM_ContentTime, Time(start + 120 + index / 2));
  if (plan.modality != "CT") return;
  // Axial slices step along z by the slice thickness, feet-first (PS3.3 C.7.6.2.1.1).
  const double z = plan.z0 - ((position != 0 ? position : index) - 1) * plan.thickness;
  const double origin = -plan.pixel_spacing * 256;
  Put(ds, DCM_ImagePositionPatient, Fixed(origin) + "\\" + Fixed(origin) + "\\" + Fixed(z));
  Put(ds, DCM_SliceLocation, Fixed(z));
}

void Save(DcmFileFormat& file, const fs::path& path) {
  const OFCondition status = file.saveFile(path.c_str(), EXS_LittleEndianExplicit);
  if (status.bad()) throw Error(Errc::kInternal, "synth: cannot write " + path.string() + ": " + status.text());
}

void WriteBytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw Error(Errc::kInternal, "synth: cannot write " + path.string());
}

std::string ReadBytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The series' slices as the reader XML names them (the same UIDs and positions PutSlice writes).
LidcSeries LidcSeriesOf(const SeriesPlan& plan, std::uint64_t seed) {
  LidcSeries series{.study_uid = plan.study_uid, .series_uid = plan.series_uid, .slices = {},
                    .pixel_spacing = plan.pixel_spacing};
  for (int index = 1; index <= plan.images; ++index) {
    series.slices.push_back(
        {Uid(seed, 4, static_cast<std::uint64_t>(plan.patient) * 16 + static_cast<std::uint64_t>(plan.study_index),
             static_cast<std::uint64_t>(index)),
         std::stod(Fixed(plan.z0 - (index - 1) * plan.thickness))});
  }
  return series;
}

// The three kinds of broken file an archive scan must report without stopping (one of each per 10 patients).
void WriteBrokenFiles(DcmFileFormat& file, const SeriesPlan& plan, std::uint64_t seed, const fs::path& dir,
                      Counts& counts) {
  WriteBytes(dir / "999997.dcm", "");
  ++counts.zero;
  Rng rng(Mix(Mix(seed, static_cast<std::uint64_t>(plan.patient)), 0xBAD));
  std::string garbage(static_cast<std::size_t>(rng.Uniform(512, 4096)), '\0');
  for (char& c : garbage) c = static_cast<char>(rng.Next() & 0xFF);
  garbage[0] = '\xFF';  // an odd group in either byte order: never a plausible dataset start
  garbage[128] = '\0';  // and never "DICM" at 128
  WriteBytes(dir / "999998.dcm", garbage);
  ++counts.garbage;
  // A valid file cut inside the SeriesInstanceUID value: the element's length runs past the end of the file.
  PutSlice(*file.getDataset(), plan, seed, 999999);
  const fs::path truncated = dir / "999999.dcm";
  Save(file, truncated);
  const std::string bytes = ReadBytes(truncated);
  const std::size_t at = bytes.find(plan.series_uid);
  if (at == std::string::npos) throw Error(Errc::kInternal, "synth: cannot find the cut point");
  WriteBytes(truncated, bytes.substr(0, at + plan.series_uid.size() / 2));
  ++counts.truncated;
}

std::string ImageName(int index) {
  char name[16];
  // Every 50th image has no extension: DICOM is recognised by content, not by name.
  std::snprintf(name, sizeof name, index % 50 == 0 ? "%06d" : "%06d.dcm", index);
  return name;
}

void WriteSeries(const SeriesPlan& plan, const SynthOptions& options, const fs::path& root, Counts& counts) {
  char patient_dir[24];
  std::snprintf(patient_dir, sizeof patient_dir, "LIDC-IDRI-%04d", plan.patient);
  const fs::path dir = root / patient_dir / plan.study_uid / plan.series_uid;
  fs::create_directories(dir);
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  PutPatientStudy(ds, plan);
  PutSeries(ds, plan);
  PutPrivateBlocks(ds, plan);
  PutPixels(ds, plan);
  const GeometryDefect defect = plan.modality == "CT" ? DefectOf(plan.patient) : GeometryDefect::kNone;
  int written = 0;
  for (int index = 1; index <= plan.images; ++index) {
    if (SkipsSlice(defect, plan.images, index)) continue;
    PutSlice(ds, plan, options.seed, index, InstanceNumberOf(defect, plan.images, index));
    const bool tilted = IsTilted(defect, plan.images, index);
    if (tilted) Put(ds, DCM_ImageOrientationPatient, std::string(kTiltedOrientation));
    Save(file, dir / ImageName(index));
    if (tilted) Put(ds, DCM_ImageOrientationPatient, kAxialOrientation);
    ++written;
  }
  if (HasDuplicateFile(defect)) {
    PutSlice(ds, plan, options.seed, plan.images + 1, 0, DefectSlice(plan.images));
    Save(file, dir / ImageName(plan.images + 1));
    ++written;
  }
  counts.instances += written;
  counts.qc_flags[plan.series_uid] = ExpectedQcFlags(plan.modality, defect);
  ++counts.studies;
  ++counts.series;
  (plan.modality == "CT" ? counts.ct : plan.modality == "CR" ? counts.cr : counts.dx) += 1;
  if (plan.modality != "CT") return;
  char xml_name[16];
  std::snprintf(xml_name, sizeof xml_name, "%03d.xml", 60 + plan.patient % 940);
  const LidcSeries lidc = LidcSeriesOf(plan, options.seed);
  WriteBytes(dir / xml_name, SynthLidcXml(lidc, options.seed, counts.lidc));
  ++counts.xml;
  // A few reads cut short (not well-formed): registered as errors, never stopping the ingest.
  if (plan.patient % 10 == 3) {
    WriteBytes(dir / "999.xml", MalformedLidcXml(lidc, options.seed, counts.lidc));
    ++counts.xml;
  }
  if (plan.patient % 10 == 1) WriteBrokenFiles(file, plan, options.seed, dir, counts);
}

json::object Manifest(const SynthOptions& options, const Counts& c) {
  const int broken = c.zero + c.garbage + c.truncated;
  return json::object{
      {"patients", options.patients},
      {"studies", c.studies},
      {"series", c.series},
      {"instances", c.instances},
      {"dicom_files", c.instances},
      {"non_dicom_files", c.xml},
      {"broken_files", json::object{{"zero_bytes", c.zero}, {"garbage", c.garbage}, {"truncated", c.truncated},
                                    {"malformed_xml", c.lidc.malformed}}},
      {"annotations", json::object{{"files", c.lidc.files},
                                   {"malformed", c.lidc.malformed},
                                   {"readers", c.lidc.sessions},
                                   {"annotations", c.lidc.annotations},
                                   {"nodules", c.lidc.nodules},
                                   {"small_nodules", c.lidc.small_nodules},
                                   {"non_nodules", c.lidc.non_nodules},
                                   {"series_with_nodules", c.lidc.series_with_nodules}}},
      {"files_total", c.instances + c.xml + broken + 1},
      {"modalities", json::object{{"CT", c.ct}, {"CR", c.cr}, {"DX", c.dx}}},
      {"seed", options.seed},
      {"small", options.small},
      {"qc_flags", c.qc_flags},
  };
}

}  // namespace

json::object WriteSynthArchive(const SynthOptions& options) {
  if (options.patients < 1 || options.patients > 9999) {
    throw Error(Errc::kBadRequest, "synth: --patients must be between 1 and 9999");
  }
  if (options.out.empty()) throw Error(Errc::kBadRequest, "synth: --out is required");
  const fs::path root(options.out);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec || !fs::is_directory(root)) throw Error(Errc::kBadRequest, "synth: cannot create '" + options.out + "'");
  Counts counts;
  for (int patient = 1; patient <= options.patients; ++patient) {
    const SeriesPlan ct = PlanCt(options.seed, patient, options.small);
    WriteSeries(ct, options, root, counts);
    SeriesPlan extra;
    if (PlanExtra(options.seed, ct, extra)) WriteSeries(extra, options, root, counts);
  }
  json::object manifest = Manifest(options, counts);
  WriteBytes(root / "manifest.json", json::serialize(manifest) + "\n");
  return manifest;
}

}  // namespace meta_db::synth
