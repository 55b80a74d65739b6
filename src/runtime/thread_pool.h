// A small fixed pool of worker threads for the runtime. parallel_for hands out indices
// dynamically, in guided chunks (a share of what is left), so uneven items balance
// themselves; the calling thread takes part as thread 0, so a pool of size 1 runs
// everything inline with no threads.
// Workers spin for kSpin after each job before they sleep, and so does the caller before it
// waits for them: a batch-1 network runs a parallel_for per layer, tens of microseconds
// apart, and a futex wake-up costs about as much inside a virtual machine (measured: two
// threads were slower than one at batch 1 before; docs/BENCHMARKS.md).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace stern {

class ThreadPool {
 public:
  // threads >= 1, including the caller. slot_base: see slot_base().
  explicit ThreadPool(int threads, int slot_base = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  // Where this pool's threads start among the per-thread states of the layers it runs: a
  // session running whole networks on several threads gives each one its own one-thread pool
  // (thread ids 0 for scratch it owns) with slot_base = that thread, and layers that keep
  // state per thread index it by slot_base() + thread.
  int slot_base() const { return slot_base_; }
  // Calls fn(i, thread) for every i in [0, n); thread in [0, size()) names the calling
  // thread so callers can give each thread its own scratch. Blocks until all are done.
  // The first exception thrown by fn is rethrown here after every item has finished.
  // Called from inside fn (a nested parallel_for), it runs inline on the calling thread.
  void parallel_for(size_t n, const std::function<void(size_t, int)>& fn);
  // The same, but runs inline (all items on thread 0) when n * cost_per_item, in
  // multiply-adds or element visits, is below kMinParallelWork: waking a worker costs a
  // few microseconds, more than a LeNet-sized layer takes.
  void parallel_for(size_t n, size_t cost_per_item, const std::function<void(size_t, int)>& fn);
  static constexpr size_t kMinParallelWork = size_t(1) << 18;
  // Thread t runs items [n t / size(), n (t + 1) / size()) on every call: each core keeps
  // touching the same weights and output lines, which stay in its own cache (with claims,
  // lines the other core wrote on the last call have to be fetched from it first).
  void parallel_static(size_t n, const std::function<void(size_t, int)>& fn);
  // Elementwise work: fn(begin, end) over [0, n) in ranges of kRange elements.
  void parallel_ranges(size_t n, const std::function<void(size_t, size_t)>& fn);
  static constexpr size_t kRange = 16384;
  static constexpr std::chrono::microseconds kSpin{200};

 private:
  void run_inline(size_t n, const std::function<void(size_t, int)>& fn) const;
  void work(int thread);
  void drain(int thread, uint64_t generation);
  void run_block(const std::function<void(size_t, int)>& fn, size_t n, int thread);
  void run_worker_block(int thread);
  void wake(std::condition_variable& cv);
  void catch_error(const std::function<void(size_t, int)>& fn, size_t i, int thread);
  void run_claims(size_t n, const std::function<void(size_t, int)>& fn);
  void run_blocks(size_t n, const std::function<void(size_t, int)>& fn);

  const int slot_base_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // Claims (parallel_for): the job under mutex_, items handed out in chunks.
  const std::function<void(size_t, int)>* job_ = nullptr;
  size_t count_ = 0, next_ = 0;
  std::atomic<int> busy_ = 0;  // workers inside a claims job; written under mutex_
  // Blocks (parallel_static) take no lock: the job is published by the generation (its low
  // bit set) and stays put until every worker has counted itself off in left_. Separate
  // fields from the claims job's, which a worker late for an old claims job may still read;
  // on one cache line with the generation, so a worker fetches the new job in one transfer.
  // Job number * 2, plus 1 for a block job.
  alignas(64) std::atomic<uint64_t> generation_ = 0;
  const std::function<void(size_t, int)>* block_job_ = nullptr;
  size_t block_count_ = 0;
  std::atomic<size_t> left_ = 0;  // workers that have not run their block
  std::atomic<bool> stop_ = false;
  // Set by a thread that blocks on a condition variable, so one that publishes without the
  // mutex knows to take it and notify (and otherwise spares the call).
  std::atomic<int> sleepers_ = 0;
  std::atomic<bool> caller_waits_ = false;
  std::exception_ptr error_;  // written under mutex_
};

}  // namespace stern
