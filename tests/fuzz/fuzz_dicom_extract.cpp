// Fuzz target: the whole header path of one file — content sniffing, the fast scanner and document building, and
// DCMTK's parser (fast path off) — on bytes written to a file (the extractor reads paths, as the scan does).
// Properties: no crash or sanitizer report; an error outcome always carries a reason.
#include "fuzz_support.hpp"

#include "meta_extractor/extractor.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace {

using meta_db::extractor::Extractor;
using meta_db::extractor::ExtractResult;
using meta_db::extractor::FileOutcome;

// Writes the input to a fresh name each time: rewriting one file in place makes ext4 flush it on close.
std::string WriteInput(const std::filesystem::path& dir, std::string_view bytes) {
  static std::uint64_t counter = 0;
  const std::string path = (dir / ("input_" + std::to_string(++counter) + ".dcm")).string();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) meta_db::fuzz::Broken("cannot create " + path);
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) meta_db::fuzz::Broken("cannot write " + path);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return path;
}

void Check(const ExtractResult& result) {
  if (result.outcome == FileOutcome::kError && result.error.empty()) meta_db::fuzz::Broken("error without reason");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const meta_db::fuzz::ScratchDir dir;
  static const Extractor fast(meta_db::extractor::ProfileSet::Defaults(), {.fast_path = true});
  static const Extractor dcmtk(meta_db::extractor::ProfileSet::Defaults(), {.fast_path = false});
  const std::string path = WriteInput(dir.path(), meta_db::fuzz::Bytes(data, size));
  Check(fast.ExtractFile(path));
  Check(dcmtk.ExtractFile(path));
  ::unlink(path.c_str());
  return 0;
}
