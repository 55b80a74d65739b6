// Signed-binary and binary layers against their peers in the same run: the dense binary
// kernel (bitmap method on +-1 weights), the kernels module's dense ternary kernel
// (ternary2, best ISA) and its int8 kernel, on 3x3 convolutions as GEMMs (M = output pixels,
// K = 9 * C_in, N = C_out; im2col is done once, outside the timing, for every entry) at 1 and
// 2 threads. Weights are random at the stated sparsity; activations random uint8 (int8 for
// ternary2, which takes int8 activation bytes). Ratios are what count: docs/BENCHMARKS.md.
//
//   bench_binary --benchmark_filter=conv --benchmark_repetitions=5
//                --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/binary/binary_xnor.h"
#include "kernels/igemm.h"
#include "kernels/qpack.h"
#include "kernels/signed_binary/bitmap_gemm.h"
#include "runtime/thread_pool.h"

namespace stern {
namespace {

struct Layer {
  const char* name;
  int64_t m, k, n;
};
// ResNet-18's 3x3 layers at 224x224 input, and the 256->256 at 14x14 of the targets.
constexpr Layer kLayers[] = {{"conv3x3_64@56", 3136, 576, 64},
                             {"conv3x3_128@28", 784, 1152, 128},
                             {"conv3x3_256@14", 196, 2304, 256},
                             {"conv3x3_512@7", 49, 4608, 512}};
constexpr double kSparsity = 0.69;

std::vector<int8_t> random_codes(int64_t rows, int64_t cols, double sparsity, bool single_sign,
                                 bool binary, std::mt19937& rng) {
  std::bernoulli_distribution nonzero(1 - sparsity), positive(0.5);
  std::vector<int8_t> codes(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int8_t sign = single_sign ? (r % 2 ? -1 : 1) : (positive(rng) ? 1 : -1);
      codes[size_t(r * cols + c)] = binary || nonzero(rng) ? sign : 0;
    }
  return codes;
}

WeightMatrix matrix(int64_t rows, int64_t cols, std::vector<int8_t> codes) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = cols;
  m.codes = std::move(codes);
  m.scale_pos.assign(size_t(rows), 0.01f);
  m.scale_neg = m.scale_pos;
  return m;
}

std::vector<uint8_t> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(byte(rng));
  return v;
}

// Runs fn(lo, hi) over [0, total) split in equal parts, one per thread, at multiples of
// `align`: filters for the bitmap kernels (whole panels), rows for lut when there are at
// least two blocks per thread (whole blocks, so no thread rebuilds another's tables).
template <typename Fn>
void split(ThreadPool* pool, int64_t total, int64_t align, Fn fn) {
  if (!pool) return fn(int64_t{0}, total);
  const int64_t parts = pool->size();
  const auto bound = [&](int64_t i) { return i == parts ? total : (total * i / parts) / align * align; };
  pool->parallel_for(size_t(parts), [&](size_t i, int) { fn(bound(int64_t(i)), bound(int64_t(i) + 1)); });
}

void set_counters(benchmark::State& state, const Layer& l) {
  state.counters["GMACs"] = benchmark::Counter(double(l.m * l.k * l.n) * 1e-9,
                                               benchmark::Counter::kIsIterationInvariantRate);
}

// Signed-binary (single-signed filters at kSparsity) or binary (+-1) weights through the
// bitmap kernels; `method` < 0 means choose_method.
void bm_bitmap(benchmark::State& state, Layer l, bool binary, int method, double sparsity) {
  std::mt19937 rng(1);
  const WeightMatrix wm = matrix(l.n, l.k, random_codes(l.n, l.k, sparsity, !binary, binary, rng));
  sbin::BitmapWeights w = binary ? sbin::pack_binary(wm, "bench") : sbin::pack_signed_binary(wm, "bench");
  const Isa isa = cpu_features().best();
  const sbin::Method m = method < 0 ? sbin::choose_method(w.bits, l.m, isa) : sbin::Method(method);
  sbin::prepare(w, m);
  const std::vector<uint8_t> x = random_bytes(size_t(l.m * l.k), rng);
  std::vector<float> y(size_t(l.m * l.n));
  const sbin::QuantizedRows a{x.data(), l.m, l.k, l.k, false, 0.05f};
  const int threads = int(state.range(0));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  const int64_t lanes = int64_t(sbin::lut_config_for(isa).lanes);
  for (auto _ : state) {
    if (m == sbin::Method::lut && l.m >= 2 * lanes * threads)
      split(pool.get(), l.m, lanes, [&](int64_t m0, int64_t m1) {
        sbin::gemm(w, m, isa, a, nullptr, true, y.data(), l.n, m0, m1, 0, l.n);
      });
    else
      split(pool.get(), l.n, 32, [&](int64_t n0, int64_t n1) {
        sbin::gemm(w, m, isa, a, nullptr, true, y.data(), l.n, 0, l.m, n0, n1);
      });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(m == sbin::Method::lut ? sbin::lut_config_for(isa).name
                                        : sbin::bitmap_config_for(isa).name);
  set_counters(state, l);
}

void bm_xnor(benchmark::State& state, Layer l) {
  std::mt19937 rng(1);
  const WeightMatrix wm = matrix(l.n, l.k, random_codes(l.n, l.k, 0, false, true, rng));
  const sbin::BitmapWeights w = sbin::pack_binary(wm, "bench");
  std::vector<int8_t> xs(size_t(l.m * l.k));
  for (auto& v : xs) v = rng() % 2 ? 1 : -1;
  const sbin::SignBits a = sbin::pack_sign_bits(xs.data(), l.m, l.k, l.k);
  std::vector<float> y(size_t(l.m * l.n));
  const int threads = int(state.range(0));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  const Isa isa = cpu_features().best();
  for (auto _ : state) {
    split(pool.get(), l.n, 16, [&](int64_t n0, int64_t n1) {
      sbin::xnor_gemm(w, a, 1.f, nullptr, true, y.data(), l.n, 0, l.m, n0, n1, isa);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetLabel(sbin::xnor_config_for(isa).name);
  set_counters(state, l);
}

// The kernels module's dense micro-kernel (ternary2 or int8) over the whole product, raw
// int32 out, no epilogue: a lower bound on that method's layer time.
void bm_dense(benchmark::State& state, Layer l, kernels::WeightFormat format) {
  using namespace kernels;
  std::mt19937 rng(1);
  const bool ternary = format == WeightFormat::ternary2;
  std::vector<int8_t> codes = random_codes(l.n, l.k, ternary ? kSparsity : 0, false, !ternary, rng);
  if (!ternary)
    for (auto& c : codes) c = int8_t(int(rng() % 255) - 127);
  const ColumnLayout layout = column_layout(l.k, l.k, int64_t(kKBlock));
  const aligned_vector<uint8_t> packed = pack_dense(codes.data(), l.n, layout, format);
  const size_t stride = panel_stride(layout, format), kp = size_t(layout.padded_cols());
  std::vector<uint8_t> x = random_bytes(size_t(l.m) * kp + 64, rng);
  if (ternary)
    for (auto& b : x) b = uint8_t(int8_t(int(b) / 2 - 64));  // int8 activation bytes
  const DenseKernel& kern = best_dense(format, KernelOp::gemm, cpu_features().best());
  const size_t panels = size_t(l.n + int64_t(kPanel) - 1) / kPanel;
  std::vector<int32_t> c(size_t(l.m) * panels * kPanel);
  const size_t ldc = panels * kPanel;
  const int threads = int(state.range(0));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  for (auto _ : state) {
    split(pool.get(), l.n, int64_t(kPanel), [&](int64_t n0, int64_t n1) {
      const size_t p0 = size_t(n0) / kPanel, p1 = (size_t(n1) + kPanel - 1) / kPanel;
      for (int64_t i = 0; i < l.m; i += int64_t(kern.mr))
        kern.fn(size_t(std::min<int64_t>(int64_t(kern.mr), l.m - i)), kp / kKBlock,
                x.data() + size_t(i) * kp, kp, packed.data() + p0 * stride, stride, p1 - p0,
                c.data() + size_t(i) * ldc + p0 * kPanel, ldc);
    });
    benchmark::DoNotOptimize(c.data());
  }
  state.SetLabel(kern.name);
  set_counters(state, l);
}

void register_all() {
  for (const Layer& l : kLayers) {
    const std::string n = l.name;
    const auto reg = [&](const std::string& what, auto fn) {
      benchmark::RegisterBenchmark(("conv/" + n + "/" + what).c_str(), fn)
          ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();
    };
    reg("signed_binary_69", [l](benchmark::State& s) { bm_bitmap(s, l, false, -1, kSparsity); });
    reg("signed_binary_69_bitmap", [l](benchmark::State& s) { bm_bitmap(s, l, false, 0, kSparsity); });
    reg("signed_binary_69_lut", [l](benchmark::State& s) { bm_bitmap(s, l, false, 1, kSparsity); });
    reg("binary_bitmap", [l](benchmark::State& s) { bm_bitmap(s, l, true, 0, 0); });
    reg("binary_lut", [l](benchmark::State& s) { bm_bitmap(s, l, true, 1, 0); });
    reg("binary_xnor", [l](benchmark::State& s) { bm_xnor(s, l); });
    reg("ternary2_dense", [l](benchmark::State& s) { bm_dense(s, l, kernels::WeightFormat::ternary2); });
    reg("int8", [l](benchmark::State& s) { bm_dense(s, l, kernels::WeightFormat::int8); });
  }
  // Where the lut method starts to pay: rows (M) and sparsity sweep at K = 2304, N = 256.
  for (int64_t m : {1, 4, 8, 16, 32, 64, 196})
    for (double sparsity : {0.0, 0.5, 0.69, 0.9, 0.98, 1.0})
      for (int method : {0, 1}) {
        const Layer l{"", m, 2304, 256};
        const std::string name = "crossover/m" + std::to_string(m) + "/sparsity" +
                                 std::to_string(int(sparsity * 100)) + "/" +
                                 sbin::method_name(sbin::Method(method));
        benchmark::RegisterBenchmark(name.c_str(), [l, method, sparsity](benchmark::State& s) {
          bm_bitmap(s, l, false, method, sparsity);
        })->Arg(1)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
}

}  // namespace
}  // namespace stern

int main(int argc, char** argv) {
  stern::register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
