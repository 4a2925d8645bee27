#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace lpengine {
namespace {

int default_threads() {
  if (const char* env = std::getenv("LPENGINE_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

class Pool {
 public:
  ~Pool() { resize(1); }

  int size() {
    std::lock_guard<std::mutex> busy(busy_);
    return static_cast<int>(workers_.size()) + 1;
  }

  void resize(int n) {
    std::lock_guard<std::mutex> busy(busy_);
    stop_workers();
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  void run(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    const int64_t chunks_max = (n + grain - 1) / grain;
    if (in_worker_ || chunks_max <= 1) {
      fn(0, n);
      return;
    }
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock() || workers_.empty()) {
      fn(0, n);
      return;
    }
    // Over-split so a slow chunk does not leave the other threads idle.
    const int64_t want = static_cast<int64_t>(workers_.size() + 1) * 4;
    const int64_t chunks = std::min(chunks_max, want);
    const int64_t step = (n + chunks - 1) / chunks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      job_n_ = n;
      job_step_ = step;
      next_.store(0);
      pending_ = static_cast<int>(workers_.size());
      ++generation_;
    }
    cv_.notify_all();
    in_worker_ = true;  // a nested parallel_for from fn runs inline
    drain();
    in_worker_ = false;
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  // NOTE: an exception (say bad_alloc) must not escape a worker thread, which would terminate
  // the process: the first one is kept, the remaining chunks are skipped, the caller rethrows it.
  void drain() {
    for (;;) {
      const int64_t begin = next_.fetch_add(job_step_);
      if (begin >= job_n_) return;
      try {
        (*job_)(begin, std::min(job_n_, begin + job_step_));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
        next_.store(job_n_);
      }
    }
  }

  void work() {
    in_worker_ = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      drain();
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
  }

  std::mutex busy_;  // held by the one caller that owns the pool for a run
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> workers_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_step_ = 1;
  std::atomic<int64_t> next_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  static thread_local bool in_worker_;
};

thread_local bool Pool::in_worker_ = false;

Pool& pool() {
  // NOTE: leaked on purpose: joining threads from a static destructor at interpreter exit can hang.
  static Pool* p = [] {
    auto* created = new Pool();
    created->resize(default_threads());
    return created;
  }();
  return *p;
}

}  // namespace

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  pool().run(n, std::max<int64_t>(grain, 1), fn);
}

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n > 0 ? n : default_threads()); }

}  // namespace lpengine
