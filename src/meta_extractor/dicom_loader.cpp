// Dicom() for the meta_db binary: loads the DICOM module from beside the executable on first use.
#include "common/module_loader.hpp"
#include "meta_extractor/dicom_entry_points.hpp"

namespace meta_db::extractor {
namespace {

const DicomEntryPoints* LoadModule() {
  using EntryPoints = const DicomEntryPoints* (*)();
  return reinterpret_cast<EntryPoints>(
      LoadModuleSymbol("meta_db_dicom.so", "meta_db_dicom_entry_points", "DICOM module"))();
}

}  // namespace

const DicomEntryPoints& Dicom() {
  static const DicomEntryPoints* const entry_points = LoadModule();  // once; a failure is retried by the next call
  return *entry_points;
}

}  // namespace meta_db::extractor
