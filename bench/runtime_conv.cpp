// FP32 reference runtime vs oneDNN on LeNet-5, VGG-style and ResNet-style layer shapes at
// batch 1 and 64 (docs/BENCHMARKS.md, "FP32 reference runtime"). Both sides run the same
// number of threads (the last argument: stern's pool, oneDNN's OpenMP), take NCHW
// activations and pre-packed weights:
//   gemm/*         stern's blocked f32 GEMM (C = W * col shapes of the conv layers) vs
//                  dnnl_sgemm on the same row-major operands;
//   conv/*         the runtime's f32 conv2d layer (im2col + GEMM, bias, ReLU) vs a oneDNN
//                  convolution with weights in its preferred layout (reordered once, outside
//                  the timing), post-op ReLU, and nchw (dnnl_nchw) or its own blocked
//                  (dnnl_blocked) activations;
//   conv_scalar/*  the same layer on the scalar reference kernel (SessionOptions::reference_only).
#include <benchmark/benchmark.h>

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#include <thread>

#include "kernels/f32_gemm/f32_gemm.h"
#include "runtime/layer.h"
#include "runtime/reference.h"
#include "runtime/thread_pool.h"
#include "stern/cpu_features.h"

namespace stern {
namespace {

struct ConvShape {
  const char* name;
  int64_t c, h, w, o, k, stride, pad;
};

// LeNet-5 (MNIST), VGG-style (CIFAR-10 3x3 stacks), ResNet-style (ResNet-20 / ResNet-18
// blocks, a strided 3x3 and a 1x1 projection).
constexpr ConvShape kShapes[] = {
    {"lenet_c1", 1, 28, 28, 6, 5, 1, 2},      {"lenet_c2", 6, 14, 14, 16, 5, 1, 0},
    {"vgg_64x32", 64, 32, 32, 64, 3, 1, 1},   {"vgg_256x8", 256, 8, 8, 256, 3, 1, 1},
    {"res_16x32", 16, 32, 32, 16, 3, 1, 1},   {"res_64x56", 64, 56, 56, 64, 3, 1, 1},
    {"res_s2_128", 64, 28, 28, 128, 3, 2, 1}, {"res_1x1_256", 64, 28, 28, 256, 1, 1, 0},
};

int64_t out_size(int64_t in, const ConvShape& s) { return (in + 2 * s.pad - s.k) / s.stride + 1; }

using test::random_floats;

void set_counters(benchmark::State& state, const ConvShape& s, int64_t batch) {
  const double flops = 2.0 * batch * s.o * out_size(s.h, s) * out_size(s.w, s) * s.c * s.k * s.k;
  state.counters["GFLOPS"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

void BM_conv_stern(benchmark::State& state, const ConvShape& s, bool reference) {
  const int64_t batch = state.range(0);
  const int threads = static_cast<int>(state.range(1));
  const std::vector<float> w = random_floats(s.o * s.k * s.k * s.c, 1);
  const Tensor weight = Tensor::from_floats("w", {s.o, s.k, s.k, s.c}, w);
  LayerDesc d;
  d.where = s.name;
  d.weight = &weight;
  d.bias = random_floats(s.o, 2);
  d.out_scale.assign(s.o, 1.0f);
  d.relu = true;
  d.conv = {s.c, s.h, s.w, s.o, out_size(s.h, s), out_size(s.w, s), s.k, s.k, s.stride, s.stride,
            s.pad, s.pad, s.pad, s.pad, 1, 1, 1};
  SessionOptions options;
  options.reference_only = reference;
  ThreadPool pool(threads);
  std::unique_ptr<Layer> layer = make_f32_conv2d(d, options);
  const std::vector<float> x = random_floats(batch * s.c * s.h * s.w, 3);
  std::vector<float> y(batch * s.o * d.conv.out_h * d.conv.out_w);
  std::vector<float> scratch(layer->scratch_floats(batch, pool.size()));
  for (auto _ : state) {
    layer->run(x.data(), y.data(), batch, pool, scratch.data());
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, s, batch);
  state.SetLabel(layer->kernel_name());
}

// plain = true: nchw source and destination (what the runtime takes and gives). false:
// oneDNN's preferred blocked layouts (nChw16c), reorders excluded: its best case.
void BM_conv_dnnl(benchmark::State& state, const ConvShape& s, bool plain) {
  using namespace dnnl;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  const int64_t batch = state.range(0), oh = out_size(s.h, s), ow = out_size(s.w, s);
  omp_set_num_threads(static_cast<int>(state.range(1)));
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const tag act = plain ? tag::nchw : tag::any;
  const memory::desc src_any({batch, s.c, s.h, s.w}, dt::f32, act);
  const memory::desc dst_any({batch, s.o, oh, ow}, dt::f32, act);
  const memory::desc w_any({s.o, s.c, s.k, s.k}, dt::f32, tag::any);
  const memory::desc b_md({s.o}, dt::f32, tag::x);
  post_ops ops;
  ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
  primitive_attr attr;
  attr.set_post_ops(ops);
  const convolution_forward::primitive_desc pd(
      {prop_kind::forward_inference, algorithm::convolution_direct, src_any, w_any, b_md, dst_any,
       {s.stride, s.stride}, {s.pad, s.pad}, {s.pad, s.pad}},
      attr, eng);
  std::vector<float> x = random_floats(batch * s.c * s.h * s.w, 3);
  std::vector<float> w = random_floats(s.o * s.c * s.k * s.k, 1), b = random_floats(s.o, 2);
  memory src_plain({{batch, s.c, s.h, s.w}, dt::f32, tag::nchw}, eng, x.data());
  memory src(pd.src_desc(), eng), dst(pd.dst_desc(), eng), bias(b_md, eng, b.data());
  reorder(src_plain, src).execute(strm, src_plain, src);
  memory w_plain({{s.o, s.c, s.k, s.k}, dt::f32, tag::oihw}, eng, w.data());
  memory weights(pd.weights_desc(), eng);
  reorder(w_plain, weights).execute(strm, w_plain, weights);
  convolution_forward conv(pd);
  for (auto _ : state) {
    conv.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_BIAS, bias},
                        {DNNL_ARG_DST, dst}});
    strm.wait();
  }
  set_counters(state, s, batch);
  state.SetLabel(pd.impl_info_str());
}

// The GEMM of one conv layer and one image: C[O, P] = W[O, C*K*K] * col[C*K*K, P].
void BM_gemm_stern(benchmark::State& state, const ConvShape& s) {
  const f32gemm::Config& cfg = f32gemm::config_for(cpu_features().best());
  const size_t m = s.o, n = out_size(s.h, s) * out_size(s.w, s), k = s.c * s.k * s.k;
  const std::vector<float> a = random_floats(m * k, 1), b = random_floats(k * n, 2);
  std::vector<float> c(m * n);
  const std::vector<float> packed = f32gemm::pack_a(cfg, {a.data(), k, false}, m, k);
  f32gemm::Problem p{m, n, k, {}, {{b.data(), n, false}}, c.data(), n};
  p.a.packed = packed.data();
  ThreadPool pool(static_cast<int>(state.range(0)));
  const size_t threads = pool.size();
  // Column blocks per thread, as the conv layer splits a single image.
  const size_t blocks = (n + cfg.nr - 1) / cfg.nr, per = (blocks + threads - 1) / threads;
  std::vector<std::vector<float>> scratch(threads, std::vector<float>(f32gemm::scratch_floats(cfg, k, n)));
  for (auto _ : state) {
    pool.parallel_for(threads, [&](size_t t, int tid) {
      const size_t n0 = std::min(n, t * per * cfg.nr), n1 = std::min(n, (t + 1) * per * cfg.nr);
      if (n0 < n1) f32gemm::compute(cfg, p, 0, m, n0, n1, scratch[tid].data());
    });
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, 1);
  state.SetLabel(cfg.name);
}

void BM_gemm_dnnl(benchmark::State& state, const ConvShape& s) {
  const int64_t m = s.o, n = out_size(s.h, s) * out_size(s.w, s), k = s.c * s.k * s.k;
  const std::vector<float> a = random_floats(m * k, 1), b = random_floats(k * n, 2);
  std::vector<float> c(m * n);
  omp_set_num_threads(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, 1);
  state.SetLabel("dnnl_sgemm");
}

const int kRegistered = [] {
  for (const ConvShape& s : kShapes) {
    const std::string n = s.name;
    for (int64_t threads : {1, 2}) {
      benchmark::RegisterBenchmark(("gemm/stern/" + n).c_str(), BM_gemm_stern, s)
          ->Arg(threads)->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      benchmark::RegisterBenchmark(("gemm/dnnl/" + n).c_str(), BM_gemm_dnnl, s)
          ->Arg(threads)->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      for (int64_t batch : {1, 64}) {
        benchmark::RegisterBenchmark(("conv/stern/" + n).c_str(), BM_conv_stern, s, false)
            ->Args({batch, threads})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("conv/dnnl_nchw/" + n).c_str(), BM_conv_dnnl, s, true)
            ->Args({batch, threads})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("conv/dnnl_blocked/" + n).c_str(), BM_conv_dnnl, s, false)
            ->Args({batch, threads})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
      }
    }
    benchmark::RegisterBenchmark(("conv_scalar/stern/" + n).c_str(), BM_conv_stern, s, true)
        ->Args({1, 1})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
  }
  return 0;
}();

}  // namespace
}  // namespace stern

BENCHMARK_MAIN();
