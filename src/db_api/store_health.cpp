// The /health probe thread (see store_health.hpp).
#include "db_api/store_health.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace meta_db::db_api {

StoreHealth::StoreHealth(Store& store, std::chrono::milliseconds interval, std::chrono::milliseconds first_wait,
                         std::chrono::milliseconds stale_after)
    : store_(store), interval_(interval), stale_after_(stale_after) {
  thread_ = std::jthread([this](std::stop_token stop) { Run(stop); });
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, first_wait, [this] { return probed_; });
}

StoreHealth::~StoreHealth() {
  thread_.request_stop();
  changed_.notify_all();
}

std::string StoreHealth::Reason() const {
  std::lock_guard lock(mutex_);
  if (probing_) {
    const auto waited = std::chrono::steady_clock::now() - probe_started_;
    if (waited > stale_after_ || !probed_) {
      if (!reason_.empty()) return reason_;
      return "store did not answer a probe within " +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()) + " ms";
    }
  }
  return reason_;
}

void StoreHealth::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mutex_);
      probing_ = true;
      probe_started_ = std::chrono::steady_clock::now();
    }
    std::string reason;
    try {
      reason = store_.Unreachable();
    } catch (const std::exception& ex) {
      reason = ex.what();  // reported by /health; the probe goes on
    }
    {
      std::lock_guard lock(mutex_);
      if (reason != reason_ && probed_) spdlog::info("store health: {}", reason.empty() ? "reachable" : reason);
      reason_ = std::move(reason);
      probing_ = false;
      probed_ = true;
    }
    changed_.notify_all();
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace meta_db::db_api
