#include "runtime/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <utility>

namespace stern {
namespace {

// The pool thread id while a thread runs a parallel_for item, -1 otherwise, and its pool:
// nested calls run inline, under the same id on the same pool (so per-thread scratch stays
// private), instead of replacing the job the pool is working on.
thread_local int item_thread = -1;
thread_local const ThreadPool* item_pool = nullptr;

void enter_item(const ThreadPool* pool, int thread) { item_thread = thread, item_pool = pool; }
void leave_item() { item_thread = -1, item_pool = nullptr; }

// Spins until `ready()` or kSpin has passed; the caller then blocks as usual, so this only
// saves the wake-up when the next event comes soon. ready() is tested after every PAUSE:
// one takes ~140 cycles on Intel cores since Skylake, and testing after 64 of them let a
// job or its end wait ~3 us to be seen.
template <typename Ready>
void spin_until(Ready&& ready) {
  const auto end = std::chrono::steady_clock::now() + ThreadPool::kSpin;
  for (unsigned i = 1; !ready(); ++i) {
    _mm_pause();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > end) return;
  }
}

// The pool's critical sections are a few dozen instructions, but the caller and a worker enter
// them at the same moments (a job's start and end), and std::mutex sleeps in the kernel at
// the first failed attempt: the 3x3 256->256 layer at 2 threads made ~4 futex calls per job
// (perf stat: 74k over a benchmark run; 101 with this), and its worker started its items
// 1.9-7.3k TSC ticks after the job was posted against 1.4-1.5k when the lock is tried for a
// while first (rdtsc probe, 3 runs each). At most 256 PAUSEs (~10 us), then block as before.
void lock_spinning(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 256; ++i) {
    if (lock.try_lock()) return;
    _mm_pause();
  }
  lock.lock();
}

std::unique_lock<std::mutex> acquire(std::mutex& m) {
  std::unique_lock lock(m, std::defer_lock);
  lock_spinning(lock);
  return lock;
}

}  // namespace

// Inside an item of this pool: the item's thread id; otherwise (a pool of one thread run from
// an item of another pool, say) thread 0 of this pool.
void ThreadPool::run_inline(size_t n, const std::function<void(size_t, int)>& fn) const {
  const int thread = item_thread >= 0 && item_pool == this ? item_thread : 0;
  for (size_t i = 0; i < n; ++i) fn(i, thread);
}

ThreadPool::ThreadPool(int threads, int slot_base) : slot_base_(slot_base) {
  for (int t = 1; t < threads; ++t) workers_.emplace_back([this, t] { work(t); });
}

ThreadPool::~ThreadPool() {
  {
    auto lock = acquire(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::catch_error(const std::function<void(size_t, int)>& fn, size_t i, int thread) {
  try {
    fn(i, thread);
  } catch (...) {
    auto guard = acquire(mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

// Items are claimed under the mutex in guided chunks (a share of what is left, so large
// jobs still balance at the end): one claim per item made 2 threads slower than 1 on a
// layer of 256 tiny items (the 98%-sparse 3x3 256->256 layer quantizes one plane per item:
// 67 -> 90 us), the contended mutex putting the threads to sleep in the kernel.
void ThreadPool::drain(int thread, uint64_t generation) {
  auto lock = acquire(mutex_);
  // A worker that woke late, for a job that is over, must not take part in the next one
  // as if it had seen it. It comes back for that job.
  if (generation_ != generation) return;
  const size_t share = 2 * static_cast<size_t>(size());
  while (next_ < count_) {
    const size_t begin = next_, end = begin + std::max<size_t>(1, (count_ - begin) / share);
    next_ = end;
    const auto* job = job_;
    lock.unlock();
    enter_item(this, thread);
    for (size_t i = begin; i < end; ++i) catch_error(*job, i, thread);
    leave_item();
    lock_spinning(lock);
  }
}

// Items [n t / T, n (t + 1) / T) of a block job on thread t.
void ThreadPool::run_block(const std::function<void(size_t, int)>& fn, size_t n, int thread) {
  const size_t threads = size_t(size()), t = size_t(thread);
  enter_item(this, thread);
  for (size_t i = n * t / threads; i < n * (t + 1) / threads; ++i) catch_error(fn, i, thread);
  leave_item();
}

// A thread that registered as waiting (sleepers_, caller_waits_) did so under the mutex and
// holds it until its wait has begun: taking it here orders the notify after that.
void ThreadPool::wake(std::condition_variable& cv) {
  { auto lock = acquire(mutex_); }
  cv.notify_all();
}

// A worker's block of the published block job, then its count off. The job cannot end, nor
// its fields change, before every worker has counted itself off.
void ThreadPool::run_worker_block(int thread) {
  run_block(*block_job_, block_count_, thread);
  // The last worker wakes a caller that blocked (seq_cst: either the caller's test sees
  // left_ at 0, or this load sees it waiting).
  if (left_.fetch_sub(1) == 1 && caller_waits_.load()) wake(done_);
}

void ThreadPool::work(int thread) {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return stop_.load() || generation_.load() != seen; });
    uint64_t generation = generation_.load();
    if (generation == seen && !stop_) {
      // seq_cst with the publisher's store and load: either this test sees the new job, or
      // the publisher sees a sleeper and notifies under the mutex, after this wait began.
      auto lock = acquire(mutex_);
      ++sleepers_;
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      --sleepers_;
      generation = generation_;
    }
    if (stop_) return;
    seen = generation;
    if (generation & 1) {
      run_worker_block(thread);
      continue;
    }
    {
      auto lock = acquire(mutex_);
      if (generation_ != generation) continue;  // over already: look at the next one
      ++busy_;
    }
    drain(thread, generation);
    {
      auto lock = acquire(mutex_);
      --busy_;
    }
    done_.notify_all();
  }
}

void ThreadPool::parallel_for(size_t n, size_t cost_per_item,
                              const std::function<void(size_t, int)>& fn) {
  if (n * cost_per_item < kMinParallelWork) return run_inline(n, fn);
  parallel_for(n, fn);
}

void ThreadPool::parallel_ranges(size_t n, const std::function<void(size_t, size_t)>& fn) {
  parallel_for((n + kRange - 1) / kRange, kRange, [&](size_t i, int) {
    fn(i * kRange, std::min(n, (i + 1) * kRange));
  });
}

// With claims the caller may run every item itself while the workers wake.
void ThreadPool::run_claims(size_t n, const std::function<void(size_t, int)>& fn) {
  uint64_t generation;
  {
    auto lock = acquire(mutex_);
    job_ = &fn;
    count_ = n;
    next_ = 0;
    error_ = nullptr;
    generation = (generation_ | 1) + 1;
    generation_ = generation;
  }
  wake_.notify_all();
  drain(0, generation);
  // next_ >= count_ holds once drain(0) returns: only the workers' last items are left.
  spin_until([&] { return busy_.load() == 0; });
  auto lock = acquire(mutex_);
  done_.wait(lock, [&] { return busy_ == 0 && next_ >= count_; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

// One block per thread, published without the mutex: the caller and a worker took ~3 us
// per call on 2 threads between them with it (bench_runtime pool/static), about as much as
// the lock-free hand-off takes in all.
void ThreadPool::run_blocks(size_t n, const std::function<void(size_t, int)>& fn) {
  block_job_ = &fn;
  block_count_ = n;
  error_ = nullptr;
  left_ = workers_.size();
  generation_ = (generation_ | 1) + 2;
  if (sleepers_.load() > 0) wake(wake_);
  run_block(fn, n, 0);
  spin_until([&] { return left_.load() == 0; });
  if (left_.load() != 0) {
    auto lock = acquire(mutex_);
    caller_waits_ = true;
    done_.wait(lock, [&] { return left_.load() == 0; });
    caller_waits_ = false;
  }
  auto lock = acquire(mutex_);  // error_ was written under it
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t, int)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1 || item_thread >= 0) return run_inline(n, fn);
  run_claims(n, fn);
}

void ThreadPool::parallel_static(size_t n, const std::function<void(size_t, int)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1 || item_thread >= 0) return run_inline(n, fn);
  run_blocks(n, fn);
}

}  // namespace stern
