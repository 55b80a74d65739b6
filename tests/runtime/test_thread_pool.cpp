// ThreadPool: every item exactly once with a valid thread id, nested calls, exceptions,
// the inline path for small jobs, fixed blocks per thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "runtime/thread_pool.h"

namespace stern {
namespace {

TEST(ThreadPool, RunsEveryItemOnceWithValidThreadIds) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> seen(1000);
    std::atomic<bool> bad_id{false};
    for (int round = 0; round < 20; ++round)
      pool.parallel_for(seen.size(), [&](size_t i, int t) {
        seen[i]++;
        if (t < 0 || t >= pool.size()) bad_id = true;
      });
    for (const auto& s : seen) EXPECT_EQ(s.load(), 20);
    EXPECT_FALSE(bad_id);
  }
}

TEST(ThreadPool, NestedCallsRunInlineUnderTheCallersId) {
  ThreadPool pool(2);
  std::vector<std::atomic<int>> seen(64 * 8);
  std::atomic<bool> id_changed{false};
  pool.parallel_for(64, [&](size_t i, int outer) {
    pool.parallel_for(8, [&](size_t j, int inner) {
      seen[i * 8 + j]++;
      if (inner != outer) id_changed = true;
    });
  });
  for (const auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_FALSE(id_changed);
}

// A session's lanes: each thread of one pool runs a one-thread pool of its own, whose items
// get thread id 0 (scratch sized for its one thread) and whose slot_base names the lane.
TEST(ThreadPool, APoolRunFromAnotherPoolsItemNumbersItsOwnThreads) {
  ThreadPool outer(2);
  std::vector<std::atomic<int>> max_id(2), slot(2);
  for (auto& m : max_id) m = -1;
  outer.parallel_static(2, [&](size_t lane, int) {
    ThreadPool inner(1, int(lane));
    slot[lane] = inner.slot_base();
    inner.parallel_for(8, [&](size_t, int id) { max_id[lane] = std::max(max_id[lane].load(), id); });
  });
  for (int lane = 0; lane < 2; ++lane) {
    EXPECT_EQ(max_id[lane].load(), 0) << "lane " << lane;
    EXPECT_EQ(slot[lane].load(), lane);
  }
}

TEST(ThreadPool, RethrowsTheFirstExceptionAfterAllItems) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  EXPECT_THROW(pool.parallel_for(100,
                                 [&](size_t i, int) {
                                   ++done;
                                   if (i % 10 == 3) throw std::runtime_error("item failed");
                                 }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 100);
  // The pool still works afterwards.
  std::atomic<int> again{0};
  pool.parallel_for(10, [&](size_t, int) { ++again; });
  EXPECT_EQ(again.load(), 10);
}

TEST(ThreadPool, SmallJobsRunInlineOnThreadZero) {
  ThreadPool pool(2);
  std::atomic<int> nonzero{0};
  pool.parallel_for(4, /*cost_per_item=*/16, [&](size_t, int t) { nonzero += t != 0; });
  EXPECT_EQ(nonzero.load(), 0);
  std::atomic<size_t> covered{0};
  pool.parallel_ranges(ThreadPool::kRange * 3 + 5, [&](size_t b, size_t e) { covered += e - b; });
  EXPECT_EQ(covered.load(), ThreadPool::kRange * 3 + 5);
}

// parallel_static: every item once, on the thread whose block holds it, call after call,
// also between dynamic jobs and with fewer items than threads (empty blocks).
TEST(ThreadPool, StaticJobsRunEachBlockOnItsThread) {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    for (size_t n : {size_t(2), size_t(5), size_t(1000)}) {
      std::vector<std::atomic<int>> seen(n), owner(n);
      for (auto& o : owner) o = -1;
      std::atomic<bool> moved{false};
      for (int round = 0; round < 50; ++round) {
        pool.parallel_static(n, [&](size_t i, int t) {
          seen[i]++;
          int was = -1;
          if (!owner[i].compare_exchange_strong(was, t) && was != t) moved = true;
        });
        pool.parallel_for(n, [](size_t, int) {});
      }
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(seen[i].load(), 50);
        // Thread t's block is [n t / T, n (t + 1) / T).
        const size_t t = size_t(owner[i].load());
        EXPECT_TRUE(n * t / threads <= i && i < n * (t + 1) / threads) << "item " << i << " ran on thread " << t;
      }
      EXPECT_FALSE(moved) << "an item changed threads between calls";
    }
  }
}

// Block jobs are published without the mutex: a worker that has stopped spinning and sleeps
// must still be woken for one, and a caller whose workers outlast its spin must be woken
// when the last block ends.
TEST(ThreadPool, StaticJobsWakeSleepingWorkersAndWaitForSlowBlocks) {
  ThreadPool pool(3);
  const auto idle = ThreadPool::kSpin * 5;
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(idle);  // the workers give up spinning and sleep
    std::vector<std::atomic<int>> ran(3);
    pool.parallel_static(3, [&](size_t i, int t) {
      if (t != 0) std::this_thread::sleep_for(idle);  // the caller gives up spinning too
      ran[i] += 1 + t;
    });
    for (int t = 0; t < 3; ++t) EXPECT_EQ(ran[t].load(), 1 + t) << "round " << round << ", block " << t;
  }
}

TEST(ThreadPool, StaticJobsRethrowAfterEveryBlock) {
  ThreadPool pool(2);
  std::atomic<int> done{0};
  EXPECT_THROW(pool.parallel_static(10,
                                    [&](size_t i, int) {
                                      ++done;
                                      if (i == 7) throw std::runtime_error("item failed");
                                    }),
               std::runtime_error);
  EXPECT_EQ(done.load(), 10);
  std::atomic<int> again{0};
  pool.parallel_static(10, [&](size_t, int) { ++again; });
  EXPECT_EQ(again.load(), 10);
}

}  // namespace
}  // namespace stern
