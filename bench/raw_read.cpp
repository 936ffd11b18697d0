// The I/O floor for header extraction: open, read the first 16 KiB, close — for every file of a tree.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: raw_read ROOT [THREADS]\n");
    return 2;
  }
  const int threads = argc > 2 ? std::stoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(argv[1])) {
    if (entry.is_regular_file()) paths.push_back(entry.path().string());
  }
  std::atomic<std::size_t> next{0};
  std::atomic<long long> bytes{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::vector<char> buffer(16384);
      for (std::size_t i = next++; i < paths.size(); i = next++) {
        const int fd = open(paths[i].c_str(), O_RDONLY);
        if (fd < 0) continue;
        const ssize_t n = read(fd, buffer.data(), buffer.size());
        if (n > 0) bytes += n;
        close(fd);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "raw: %zu files, %.2f s, %.0f files/s\n", paths.size(), seconds, paths.size() / seconds);
  return 0;
}
