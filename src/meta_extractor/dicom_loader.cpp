// Dicom() for the meta_db binary: loads the DICOM module from beside the executable on first use.
#include <dlfcn.h>

#include <filesystem>
#include <string>

#include "common/error.hpp"
#include "meta_extractor/dicom_entry_points.hpp"

namespace meta_db::extractor {
namespace {

constexpr const char* kModuleFile = "meta_db_dicom.so";
constexpr const char* kEntrySymbol = "meta_db_dicom_entry_points";

const DicomEntryPoints* LoadModule() {
  std::error_code ec;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(Errc::kInternal, "cannot locate the meta_db executable: " + ec.message());
  const std::string module = (executable.parent_path() / kModuleFile).string();
  // Never closed: documents made by the module's code live as long as the process.
  void* handle = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error(Errc::kInternal, "cannot load the DICOM module " + module + ": " + (why ? why : "unknown error"));
  }
  using EntryPoints = const DicomEntryPoints* (*)();
  auto* entry = reinterpret_cast<EntryPoints>(::dlsym(handle, kEntrySymbol));
  if (entry == nullptr) throw Error(Errc::kInternal, "the DICOM module " + module + " lacks " + kEntrySymbol);
  return entry();
}

}  // namespace

const DicomEntryPoints& Dicom() {
  static const DicomEntryPoints* const entry_points = LoadModule();  // once; a failure is retried by the next call
  return *entry_points;
}

}  // namespace meta_db::extractor
