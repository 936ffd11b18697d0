// SplitMix64 (Steele, Lea, Flood 2014): the one pseudo-random generator of synth archives and ML splits.
// Fixed and fully specified, so a seed gives the same archive and the same split on every machine and library
// version (std:: distributions are implementation-defined).
#pragma once

#include <cstdint>

namespace meta_db {

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t Next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) by rejection (no modulo bias); bound > 0.
  std::uint64_t Below(std::uint64_t bound) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;  // values at or above it would favour small results
    for (;;) {
      const std::uint64_t x = Next();
      if (x < limit) return x % bound;
    }
  }
  // [lo, hi] by modulo: the synth archives' draws (their bytes depend on exactly this formula).
  int Uniform(int lo, int hi) { return lo + static_cast<int>(Next() % static_cast<std::uint64_t>(hi - lo + 1)); }
  double Real(double lo, double hi) { return lo + (hi - lo) * static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

}  // namespace meta_db
