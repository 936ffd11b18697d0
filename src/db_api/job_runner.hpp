// The server's background job runner: one thread, apart from the network I/O threads and the request workers,
// that resolves queued jobs one at a time (catalog::ResolveJob, in chunks) and keeps their live progress.
// Started and stopped with the server; at start it re-queues the jobs a killed server left queued or running.
// Thread-safety: every member may be called from any thread. Errors: a failing resolution marks its job failed.
#pragma once

#include "common/object_id.hpp"
#include "store/store.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace meta_db::db_api {

class JobRunner {
 public:
  // Starts the thread and queues the store's jobs left queued or running.
  explicit JobRunner(Store& store);
  ~JobRunner();  // abandons the running resolution at its next chunk (the job stays running: resumed next start)
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  void Enqueue(const ObjectId& job);
  // 0..100 while the job is being resolved; nullopt otherwise.
  std::optional<int> Progress(const ObjectId& job) const;

 private:
  void Run(std::stop_token stop);
  void Recover();
  void Resolve(const ObjectId& job, std::stop_token stop);

  Store& store_;
  mutable std::mutex mutex_;
  std::condition_variable_any wake_;
  std::deque<ObjectId> queue_;
  std::set<ObjectId> queued_;
  std::map<ObjectId, int> progress_;
  std::jthread thread_;  // last: started once the members above exist, joined before they go
};

}  // namespace meta_db::db_api
