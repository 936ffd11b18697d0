// Shared pieces of the fuzz targets: the libFuzzer entry point's signature, bytes as JSON, a failure that stops the
// fuzzer (with what broke) and a throwaway directory for targets that need files.
#pragma once

#include "common/error.hpp"
#include "common/json_io.hpp"

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace meta_db::fuzz {

inline std::string_view Bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The JSON the server would accept from these bytes (its own parser and limits), or nullopt where it answers 400.
inline std::optional<boost::json::value> JsonOf(std::string_view text) {
  try {
    return ParseJson(text);
  } catch (const Error& error) {
    if (error.code() != Errc::kBadRequest) throw;
    return std::nullopt;
  }
}

// A property broke: say which and abort, so libFuzzer keeps the input as a crash artifact.
[[noreturn]] inline void Broken(const std::string& what) {
  std::fprintf(stderr, "fuzz property broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// A directory of this process under TMPDIR, removed at exit (the targets' stores and files live there).
class ScratchDir {
 public:
  ScratchDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/meta_db_fuzz.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) Broken("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace meta_db::fuzz
