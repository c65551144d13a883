// The addon's persistent worker pool (thread_pool.h). One job at a time: a job is a task and a part count; the
// caller and the woken workers claim parts from an atomic counter until none are left. Workers spin briefly after a
// job (tfjs runs kernels back to back, tens of µs apart) and then sleep on a condition variable (a futex), so an
// idle process costs no CPU.
#include "thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RLHFJS_PAUSE() _mm_pause()
#else
#define RLHFJS_PAUSE() std::this_thread::yield()
#endif

namespace rlhfjs {
namespace {

// How long a worker keeps polling for the next job before it sleeps. Short: on a loaded 2-core machine a spinning
// worker takes a core from OpenBLAS or from another process.
constexpr std::chrono::microseconds kSpinTime{50};

// True on a pool worker and on a caller while it runs a job's parts: a nested RunParts then runs inline.
thread_local bool insideJob = false;

class ThreadPool {
 public:
  int WorkerCount() {
    std::lock_guard<std::mutex> lock(mutex_);
    return static_cast<int>(workers_.size());
  }

  void Run(int parts, int threads, const std::function<void(int)>& task) {
    std::unique_lock<std::mutex> dispatch(dispatch_, std::try_to_lock);
    if (!dispatch.owns_lock()) {  // another thread's job holds the workers: do this one here rather than wait
      RunInline(parts, task);
      return;
    }
    const int helpers = std::min(threads, parts) - 1;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (static_cast<int>(workers_.size()) < helpers) {
        const int index = static_cast<int>(workers_.size());
        workers_.emplace_back([this, index] { WorkerLoop(index); });
      }
      task_ = &task;
      parts_ = parts;
      helpers_ = helpers;
      next_.store(0, std::memory_order_relaxed);
      finished_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    insideJob = true;
    ClaimParts(task, parts);
    insideJob = false;
    // Wait until every part has finished and no worker still reads the job.
    const auto spinUntil = std::chrono::steady_clock::now() + kSpinTime;
    while (finished_.load(std::memory_order_acquire) < parts && std::chrono::steady_clock::now() < spinUntil) {
      RLHFJS_PAUSE();
    }
    std::exception_ptr error;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [&] { return finished_.load(std::memory_order_acquire) >= parts && active_ == 0; });
      task_ = nullptr;
      error = error_;
      error_ = nullptr;
    }
    dispatch.unlock();
    if (error) std::rethrow_exception(error);
  }

 private:
  static void RunInline(int parts, const std::function<void(int)>& task) {
    const bool wasInside = insideJob;
    insideJob = true;
    try {
      for (int part = 0; part < parts; ++part) task(part);
    } catch (...) {
      insideJob = wasInside;
      throw;
    }
    insideJob = wasInside;
  }

  // Claims and runs parts until none are left; records the first exception.
  void ClaimParts(const std::function<void(int)>& task, int parts) {
    for (;;) {
      const int part = next_.fetch_add(1, std::memory_order_relaxed);
      if (part >= parts) return;
      try {
        task(part);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      if (finished_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller checks under this lock before it sleeps
        done_.notify_all();
      }
    }
  }

  void WorkerLoop(int index) {
    insideJob = true;
    uint64_t seen = generation_.load(std::memory_order_acquire);
    for (;;) {
      const auto spinUntil = std::chrono::steady_clock::now() + kSpinTime;
      while (generation_.load(std::memory_order_acquire) == seen && std::chrono::steady_clock::now() < spinUntil) {
        RLHFJS_PAUSE();
      }
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_relaxed) != seen; });
      seen = generation_.load(std::memory_order_relaxed);
      // A job with fewer helpers than workers leaves the rest asleep; a finished job (task_ cleared) is skipped.
      if (task_ == nullptr || index >= helpers_) continue;
      const std::function<void(int)>* task = task_;
      const int parts = parts_;
      ++active_;
      lock.unlock();
      ClaimParts(*task, parts);
      lock.lock();
      if (--active_ == 0) done_.notify_all();
    }
  }

  std::mutex dispatch_;  // held by the one caller whose job the workers serve
  std::mutex mutex_;     // guards the job fields, active_, error_ and workers_
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::atomic<uint64_t> generation_{0};
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0, helpers_ = 0, active_ = 0;
  std::atomic<int> next_{0}, finished_{0};
  std::exception_ptr error_;
};

ThreadPool& Pool() {
  // Never destroyed: at process exit the workers are parked on the condition variable (no job outlives its
  // RunParts call) and the OS ends them with the process. Destroying the pool from a static destructor could free
  // the mutex under a job still running on another thread (a worker_threads caller during process.exit).
  static ThreadPool* const pool = new ThreadPool();
  return *pool;
}

}  // namespace

void RunParts(int parts, int threads, const std::function<void(int)>& task) {
  if (parts <= 0) return;
  if (parts == 1 || threads <= 1 || insideJob) {
    if (insideJob) {
      for (int part = 0; part < parts; ++part) task(part);
    } else {
      insideJob = true;
      try {
        for (int part = 0; part < parts; ++part) task(part);
      } catch (...) {
        insideJob = false;
        throw;
      }
      insideJob = false;
    }
    return;
  }
  Pool().Run(parts, threads, task);
}

int PoolWorkerCount() { return Pool().WorkerCount(); }

}  // namespace rlhfjs
