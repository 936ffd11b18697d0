// Token buckets: each key refills at `rate` per second up to `burst`; a request takes one.
#include "db_api/auth_rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace meta_db::db_api {

namespace {
constexpr std::size_t kPruneAbove = 10000;  // keys kept before full buckets are dropped
}

RateLimiter::RateLimiter(double rate, double burst) : rate_(rate), burst_(std::max(1.0, burst)) {}

int RateLimiter::Take(const std::string& key) {
  if (rate_ <= 0) return 0;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (buckets_.size() > kPruneAbove) Prune(now);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& bucket = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - bucket.at).count();
    bucket.tokens = std::min(burst_, bucket.tokens + elapsed * rate_);
    bucket.at = now;
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - bucket.tokens) / rate_)));
}

void RateLimiter::Prune(std::chrono::steady_clock::time_point now) {
  std::erase_if(buckets_, [&](const auto& entry) {
    const double elapsed = std::chrono::duration<double>(now - entry.second.at).count();
    return entry.second.tokens + elapsed * rate_ >= burst_;
  });
}

}  // namespace meta_db::db_api
