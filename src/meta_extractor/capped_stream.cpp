// The DCMTK path's file stream: windowed reads, seeking skips, a cap on header bytes consumed.
#include "meta_extractor/capped_stream.hpp"

#include <dcmtk/dcmdata/dcerror.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace meta_db::extractor::detail {
namespace {

constexpr std::size_t kWindow = 64 * 1024;

// Streams that are already at their end: what DCMTK would load a skipped value from.
class EmptyStreamFactory : public DcmInputStreamFactory {
 public:
  DcmInputStream* create() const override {
    auto stream = std::make_unique<DcmInputBufferStream>();
    stream->setEos();
    return stream.release();  // DCMTK takes ownership
  }
  DcmInputStreamFactory* clone() const override { return std::make_unique<EmptyStreamFactory>().release(); }
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputTempFileStreamFactory; }
};

}  // namespace

OFCondition FileWindowProducer::status() const { return good() ? EC_Normal : EC_InvalidStream; }

bool FileWindowProducer::Fill() {
  window_.resize(std::min(kWindow, size_ - pos_));
  window_start_ = pos_;
  std::size_t got = 0;
  while (got < window_.size()) {
    const ssize_t n = ::pread(fd_, window_.data() + got, window_.size() - got, static_cast<off_t>(pos_ + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_ = errno;
      window_.clear();
      return false;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  window_.resize(got);
  if (window_.empty()) size_ = pos_;  // shorter than fstat said: it ends here
  return !window_.empty();
}

offile_off_t FileWindowProducer::read(void* buf, offile_off_t buflen) {
  auto* out = static_cast<char*>(buf);
  std::size_t want = std::min(static_cast<std::size_t>(std::max<offile_off_t>(buflen, 0)), size_ - pos_);
  std::size_t done = 0;
  while (done < want && good()) {
    if (pos_ < window_start_ || pos_ >= window_start_ + window_.size()) {
      if (!Fill()) break;
      want = std::min(want, done + (size_ - pos_));
    }
    const std::size_t n = std::min(want - done, window_start_ + window_.size() - pos_);
    std::memcpy(out + done, window_.data() + (pos_ - window_start_), n);
    pos_ += n;
    done += n;
  }
  return static_cast<offile_off_t>(done);
}

offile_off_t FileWindowProducer::skip(offile_off_t skiplen) {
  const std::size_t n = std::min(static_cast<std::size_t>(std::max<offile_off_t>(skiplen, 0)), size_ - pos_);
  pos_ += n;
  return static_cast<offile_off_t>(n);
}

void FileWindowProducer::putback(offile_off_t num) {
  pos_ -= std::min(static_cast<std::size_t>(std::max<offile_off_t>(num, 0)), pos_);
}

offile_off_t CappedFileStream::read(void* buf, offile_off_t buflen) {
  if (capped_) return 0;
  if (buflen > 0 && consumed_ + static_cast<std::size_t>(buflen) > cap_) {
    capped_ = true;
    return 0;
  }
  const offile_off_t n = DcmInputStream::read(buf, buflen);
  consumed_ += static_cast<std::size_t>(std::max<offile_off_t>(n, 0));
  return n;
}

DcmInputStreamFactory* CappedFileStream::newFactory() const { return std::make_unique<EmptyStreamFactory>().release(); }

}  // namespace meta_db::extractor::detail
