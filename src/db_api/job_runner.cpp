// Background resolution of jobs: a queue, one thread at low priority, live progress, recovery at start.
#include "db_api/job_runner.hpp"

#include "catalog/catalog.hpp"
#include "catalog/job_resolution.hpp"
#include "catalog/record_io.hpp"
#include "common/error.hpp"

#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace meta_db::db_api {

namespace {

// How often a running job's progress is written to its document (the live value is in memory meanwhile).
constexpr auto kPersistEvery = std::chrono::seconds(2);

void SetStatus(Store& store, const ObjectId& job, boost::json::object patch) {
  store.Write([&](Session& session) {
    if (session.Get(Kind::kJobs, job)) catalog::Patch(session, Kind::kJobs, job, patch);
  });
}

}  // namespace

JobRunner::JobRunner(Store& store) : store_(store), thread_([this](std::stop_token stop) { Run(stop); }) {}

JobRunner::~JobRunner() {
  thread_.request_stop();
  wake_.notify_all();
}

void JobRunner::Enqueue(const ObjectId& job) {
  {
    std::lock_guard lock(mutex_);
    if (!queued_.insert(job).second) return;
    queue_.push_back(job);
  }
  wake_.notify_all();
}

std::optional<int> JobRunner::Progress(const ObjectId& job) const {
  std::lock_guard lock(mutex_);
  const auto it = progress_.find(job);
  if (it == progress_.end()) return std::nullopt;
  return it->second;
}

void JobRunner::Recover() {
  // A store that is down at start is retried until it answers or the server stops.
  std::vector<ObjectId> pending;
  store_.Read([&](Session& session) {
    for (const char* status : {"running", "queued"}) {
      catalog::VisitFound(session, Kind::kJobs, {{"status", status}}, {"_id"}, [&](const Document& job) {
        if (auto id = ObjectId::Parse(job.at("_id").as_string())) pending.push_back(*id);
      });
    }
  });
  if (!pending.empty()) spdlog::info("job runner: resuming {} job(s) left queued or running", pending.size());
  for (const ObjectId& id : pending) Enqueue(id);
}

void JobRunner::Run(std::stop_token stop) {
  // Below the I/O threads and the request workers: resolution is throughput work.
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);
  if (errno == 0 && setpriority(PRIO_PROCESS, 0, std::min(nice + 10, 19)) != 0) {
    spdlog::debug("job runner priority unchanged: {}", std::strerror(errno));
  }
  for (bool recovered = false; !recovered && !stop.stop_requested();) {
    try {
      Recover();
      recovered = true;
    } catch (const std::exception& error) {
      spdlog::warn("job runner: cannot list pending jobs yet: {}", error.what());
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, std::chrono::seconds(2), [] { return false; });
    }
  }
  while (!stop.stop_requested()) {
    ObjectId job;
    {
      std::unique_lock lock(mutex_);
      if (!wake_.wait(lock, stop, [this] { return !queue_.empty(); })) return;
      job = queue_.front();
      queue_.pop_front();
      queued_.erase(job);
      progress_[job] = 0;
    }
    Resolve(job, stop);
    std::lock_guard lock(mutex_);
    progress_.erase(job);
  }
}

void JobRunner::Resolve(const ObjectId& job, std::stop_token stop) {
  try {
    const auto started = std::chrono::steady_clock::now();
    SetStatus(store_, job, {{"status", "running"}, {"progress", 0}});
    auto persisted = std::chrono::steady_clock::now();
    const auto result = catalog::ResolveJob(store_, job, [&](int percent) {
      if (stop.stop_requested()) return false;
      {
        std::lock_guard lock(mutex_);
        progress_[job] = percent;
      }
      if (std::chrono::steady_clock::now() - persisted >= kPersistEvery) {
        SetStatus(store_, job, {{"progress", percent}});
        persisted = std::chrono::steady_clock::now();
      }
      return true;
    });
    if (!result && !stop.stop_requested()) spdlog::debug("job {} was deleted while it ran", job.ToHex());
    if (result) {
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
      spdlog::info("job {} resolved in {:.2f} s", job.ToHex(), took.count());
    }
  } catch (const std::exception& error) {
    spdlog::warn("job {} failed: {}", job.ToHex(), error.what());
    try {
      SetStatus(store_, job, {{"status", "failed"}, {"error", error.what()}});
    } catch (const std::exception& again) {
      spdlog::warn("job {}: its failure was not recorded: {}", job.ToHex(), again.what());
    }
  }
}

}  // namespace meta_db::db_api
