// The exported symbol of the DICOM module (meta_db_dicom.so) that the meta_db binary loads on first use.
#include "meta_extractor/dicom_entry_points.hpp"

extern "C" __attribute__((visibility("default"))) const meta_db::extractor::DicomEntryPoints*
meta_db_dicom_entry_points() {
  return &meta_db::extractor::LinkedDicomEntryPoints();
}
