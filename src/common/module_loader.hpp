// Loading meta_db's own modules (shared objects beside the executable) on first use: libraries that most runs never
// need (DCMTK for header parsing, libmongoc for the MongoDB back-end) then cost those runs nothing at start-up.
#pragma once

#include <string_view>

namespace meta_db {

// The address of `symbol` in `module_file` (a file name beside /proc/self/exe), loaded once and never closed.
// Throws Error(kInternal) naming the module (`what`, e.g. "DICOM module") and the loader's reason.
void* LoadModuleSymbol(const char* module_file, const char* symbol, std::string_view what);

}  // namespace meta_db
