// The thread pool's hand-off: one call of parallel_static / parallel_for with one small item
// per thread (each thread writes its own cache line), against an OpenMP parallel loop of the
// same items (the runtime of oneDNN's threads) in the same run. What a layer split across
// threads pays per call on top of its work; at batch 1 that decides which layers split.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <vector>

#include "runtime/thread_pool.h"

namespace stern {
namespace {

struct alignas(64) Line {
  uint64_t value = 0;
};

void touch(std::vector<Line>& lines, size_t i) { benchmark::DoNotOptimize(++lines[i].value); }

void BM_pool_static(benchmark::State& state) {
  const int threads = int(state.range(0));
  ThreadPool pool(threads);
  std::vector<Line> lines(static_cast<size_t>(threads));
  for (auto _ : state) pool.parallel_static(lines.size(), [&](size_t i, int) { touch(lines, i); });
}

void BM_pool_claims(benchmark::State& state) {
  const int threads = int(state.range(0));
  ThreadPool pool(threads);
  std::vector<Line> lines(static_cast<size_t>(threads));
  for (auto _ : state) pool.parallel_for(lines.size(), [&](size_t i, int) { touch(lines, i); });
}

void BM_openmp_static(benchmark::State& state) {
  const int threads = int(state.range(0));
  std::vector<Line> lines(static_cast<size_t>(threads));
  omp_set_num_threads(threads);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < threads; ++i) touch(lines, size_t(i));
  }
}

BENCHMARK(BM_pool_static)->Name("pool/static")->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_pool_claims)->Name("pool/claims")->Arg(1)->Arg(2)->UseRealTime();
BENCHMARK(BM_openmp_static)->Name("pool/openmp_static")->Arg(1)->Arg(2)->UseRealTime();

}  // namespace
}  // namespace stern
