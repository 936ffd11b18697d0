// Dicom() for programs linked with the DICOM library (the tests): the entry points are right here.
#include "meta_extractor/dicom_entry_points.hpp"

namespace meta_db::extractor {

const DicomEntryPoints& Dicom() { return LinkedDicomEntryPoints(); }

}  // namespace meta_db::extractor
