// A token-bucket rate limiter keyed by caller (a token id, "admin", or a client address).
// Thread-safety: Take may be called from many threads at once.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace meta_db::db_api {

class RateLimiter {
 public:
  // `rate` requests per second on average, bursts of up to `burst`; rate <= 0 admits everything.
  RateLimiter(double rate, double burst);

  // 0 when the request is admitted (one token taken), else the whole seconds to wait before one is available.
  int Take(const std::string& key);

 private:
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point at;
  };
  // Forgets buckets that have refilled completely (they hold no state a fresh bucket would not), so a stream of
  // new client addresses cannot grow the map without bound.
  void Prune(std::chrono::steady_clock::time_point now);

  double rate_;
  double burst_;
  std::mutex mutex_;
  std::map<std::string, Bucket> buckets_;
};

}  // namespace meta_db::db_api
