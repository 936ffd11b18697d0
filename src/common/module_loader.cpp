// dlopen of a module beside the executable.
#include "common/module_loader.hpp"

#include "common/error.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <string>

namespace meta_db {

void* LoadModuleSymbol(const char* module_file, const char* symbol, std::string_view what) {
  std::error_code ec;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error(Errc::kInternal, "cannot locate the meta_db executable: " + ec.message());
  const std::string module = (executable.parent_path() / module_file).string();
  // Never closed: objects made by the module's code live as long as the process.
  void* handle = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    throw Error(Errc::kInternal,
                "cannot load the " + std::string(what) + " " + module + ": " + (why ? why : "unknown error"));
  }
  void* entry = ::dlsym(handle, symbol);
  if (entry == nullptr) throw Error(Errc::kInternal, "the " + std::string(what) + " " + module + " lacks " + symbol);
  return entry;
}

}  // namespace meta_db
