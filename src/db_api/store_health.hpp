// A background probe of the store's reachability, so /health answers at once even when the store is slow or down.
// Thread-safety: Reason() may be called from any thread; the probe runs on the monitor's own thread.
#pragma once

#include "store/store.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace meta_db::db_api {

class StoreHealth {
 public:
  // Starts probing `store` every `interval`; waits at most `first_wait` for the first answer (longer than the store's
  // connect timeout, so the first /health already names why a store that is down cannot be reached).
  StoreHealth(Store& store, std::chrono::milliseconds interval, std::chrono::milliseconds first_wait,
              std::chrono::milliseconds stale_after);
  ~StoreHealth();  // stops and joins the probe thread
  StoreHealth(const StoreHealth&) = delete;
  StoreHealth& operator=(const StoreHealth&) = delete;

  // "" when the last completed probe reached the store; otherwise why not (the store's own message). A probe still
  // unanswered after `stale_after` counts as a failure, so a probe that hangs cannot keep /health at 200. Never blocks.
  std::string Reason() const;

 private:
  void Run(std::stop_token stop);

  Store& store_;
  const std::chrono::milliseconds interval_;
  const std::chrono::milliseconds stale_after_;
  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  bool probed_ = false;
  bool probing_ = false;
  std::chrono::steady_clock::time_point probe_started_;
  std::string reason_;
  std::jthread thread_;  // last: started after every member it uses
};

}  // namespace meta_db::db_api
