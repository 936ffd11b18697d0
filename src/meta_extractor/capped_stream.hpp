// Internal: the DCMTK input stream the DCMTK path parses from — a file descriptor read through a small window,
// long values skipped by moving the offset (never read), and at most kMaxHeaderBytes of header consumed.
#pragma once

#include <dcmtk/dcmdata/dcistrma.h>

#include <cstddef>
#include <vector>

namespace meta_db::extractor::detail {

// Reads a file with pread through a 64 KiB window; skip() moves the offset without reading. Not thread-safe.
class FileWindowProducer : public DcmProducer {
 public:
  FileWindowProducer(int fd, std::size_t size) : fd_(fd), size_(size) {}
  OFBool good() const override { return error_ == 0; }
  OFCondition status() const override;
  OFBool eos() override { return !good() || pos_ >= size_; }
  offile_off_t avail() override { return good() ? static_cast<offile_off_t>(size_ - pos_) : 0; }
  offile_off_t read(void* buf, offile_off_t buflen) override;
  offile_off_t skip(offile_off_t skiplen) override;
  void putback(offile_off_t num) override;
  // errno of the failed read, or 0.
  int error() const { return error_; }

 private:
  bool Fill();

  int fd_;
  std::size_t size_;  // lowered when the file turns out shorter (being rewritten)
  std::size_t pos_ = 0;
  std::vector<char> window_;
  std::size_t window_start_ = 0;
  int error_ = 0;
};

// The producer's owner comes first among the bases, so it exists before DcmInputStream stores its address.
struct FileWindowProducerHolder {
  FileWindowProducerHolder(int fd, std::size_t size) : producer(fd, size) {}
  FileWindowProducer producer;
};

// A DcmInputStream that ends (avail() 0, eos()) once more than `cap` bytes have been read from it; skipped
// values do not count. Its factory's streams are empty, so a value DCMTK skipped (longer than its maxReadLength)
// is never loaded later either — DCMTK skips long values only when a stream offers a factory. Counting happens
// after any deflate filter, so a compressed header cannot inflate past the cap.
class CappedFileStream : private FileWindowProducerHolder, public DcmInputStream {
 public:
  CappedFileStream(int fd, std::size_t size, std::size_t cap)
      : FileWindowProducerHolder(fd, size), DcmInputStream(&producer), cap_(cap) {}
  OFBool eos() override { return capped_ || DcmInputStream::eos(); }
  offile_off_t avail() override { return capped_ ? 0 : DcmInputStream::avail(); }
  offile_off_t read(void* buf, offile_off_t buflen) override;
  DcmInputStreamFactory* newFactory() const override;

  bool capped() const { return capped_; }
  int io_error() const { return producer.error(); }

 private:
  std::size_t cap_;
  std::size_t consumed_ = 0;
  bool capped_ = false;
};

}  // namespace meta_db::extractor::detail
