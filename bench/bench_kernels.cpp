// Integer kernels against their peers in one run (docs/BENCHMARKS.md). Every entry takes
// the thread count as its argument (1, 2); oneDNN runs on as many OpenMP threads.
//   gemv/<shape>/...   batch-1 linear layers, 4096x4096 (weights in L3) and 16384x16384
//                      (weights in DRAM): stern dense and sparse ternary (sparsity sweep),
//                      stern int8, oneDNN u8s8 and f32 matmul, the TQ2_0 maddubs GEMV, and
//                      the DRAM read peer (a streaming sum over 256 MiB).
//   conv/<shape>/...   3x3 convolutions of ResNet-18, LeNet-5 and VGG-style layers at batch 1:
//                      stern dense / sparse ternary, the runtime's choice between them
//                      (stern_ternary_auto_<sparsity>) and int8 vs oneDNN u8s8 and f32.
//   ukernel/<name>     every micro-kernel of kernels.inc the CPU runs (scalar, AVX2, AVX-512)
//                      alone on the 256->256 3x3 layer's GEMM (M = 196 or 1, K = 2304, N = 256;
//                      sparse at 90%), so ISAs compare in one run; the quantize (NCHW and
//                      NHWC), row copy and epilogue kernels on that layer's image (256 x 14 x 14).
// stern entries run the whole layer as the runtime does (float NCHW in, quantize, im2col,
// integer kernels, float epilogue, NCHW out); the target layer's *_codes_in entries take
// their input already quantized, as a layer does after a requantizing one, and its pair_*
// entries run them alternately with oneDNN in one process (BM_pair). oneDNN entries
// get their input already quantized to u8 and reordered to their preferred layout, weights
// reordered once, both outside the timing: their best case.
//
//   bench_kernels --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>

#include "kernels/igemm.h"
#include "kernels/qmatmul.h"
#include "kernels/qpack.h"
#include "peers.h"
#include "runtime/int_layers.h"
#include "runtime/thread_pool.h"

namespace stern {
namespace {

using kernels::IntLayer;
using kernels::Method;

struct Shape {
  const char* name;
  int64_t c, h, w, o, k, stride, pad;
  bool linear() const { return h == 1 && w == 1 && k == 1; }
  int64_t oh() const { return (h + 2 * pad - k) / stride + 1; }
  int64_t ow() const { return (w + 2 * pad - k) / stride + 1; }
  double macs() const { return double(o) * oh() * ow() * c * k * k; }
};

constexpr Shape kGemv[] = {{"4096x4096", 4096, 1, 1, 4096, 1, 1, 0},
                           {"16384x16384", 16384, 1, 1, 16384, 1, 1, 0}};
constexpr Shape kConv[] = {
    {"conv3x3_256@14", 256, 14, 14, 256, 3, 1, 1},  // the target layer
    {"resnet18_64@56", 64, 56, 56, 64, 3, 1, 1},   {"resnet18_128@28", 128, 28, 28, 128, 3, 1, 1},
    {"resnet18_512@7", 512, 7, 7, 512, 3, 1, 1},   {"lenet_c2", 6, 14, 14, 16, 5, 1, 0},
    {"vgg_64@28", 64, 28, 28, 64, 3, 1, 1},        {"vgg_128@14", 128, 14, 14, 128, 3, 1, 1},
    {"vgg_1@28", 1, 28, 28, 16, 3, 1, 1},  // the Fashion VGG's first layer (plane_conv)
};
constexpr double kSparsities[] = {0.0, 0.5, 0.69, 0.9, 0.95, 0.98};

// Fast deterministic codes: a 16384^2 matrix is 268 M weights.
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

WeightMatrix random_matrix(int64_t rows, int64_t cols, double sparsity, bool int8) {
  WeightMatrix m;
  m.rows = rows, m.cols = cols, m.group = cols;
  m.codes.resize(rows * cols);
  uint64_t s = 42;
  const uint64_t zero_below = uint64_t(sparsity * 65536.0);
  for (auto& c : m.codes) {
    const uint64_t r = splitmix(s);
    if ((r & 0xFFFF) < zero_below) continue;
    c = int8 ? int8_t(1 + (r >> 16) % 127) * ((r >> 40) & 1 ? 1 : -1) : ((r >> 16) & 1 ? 1 : -1);
  }
  m.scale_pos.assign(rows, 0.01f);
  m.scale_neg = m.scale_pos;
  return m;
}

std::vector<float> random_floats(size_t n, float lo, float hi) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

ConvGeometry geometry(const Shape& s) {
  ConvGeometry g;
  g.in_c = s.c, g.in_h = s.h, g.in_w = s.w, g.out_c = s.o, g.out_h = s.oh(), g.out_w = s.ow();
  g.kernel_h = g.kernel_w = s.k, g.stride_h = g.stride_w = s.stride;
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = s.pad;
  return g;
}

// Setup is expensive at 16384^2 and Google Benchmark calls a function several times while
// it sizes the iteration count: keep the last benchmark's state alive.
template <typename T>
T& cached(const std::string& key, const std::function<std::unique_ptr<T>()>& make) {
  static std::string last;
  static std::shared_ptr<void> value;
  if (key != last) {
    value.reset();  // free the previous one first: the big shapes do not fit twice
    value = std::shared_ptr<T>(make());
    last = key;
  }
  return *static_cast<T*>(value.get());
}

void counters(benchmark::State& state, const Shape& s) {
  state.counters["Gweights/s"] = benchmark::Counter(double(s.o) * s.c * s.k * s.k,
                                                    benchmark::Counter::kIsIterationInvariantRate,
                                                    benchmark::Counter::kIs1000);
  state.counters["GOPS"] = benchmark::Counter(2 * s.macs(), benchmark::Counter::kIsIterationInvariantRate,
                                              benchmark::Counter::kIs1000);
}

// codes_in: the layer takes its input already quantized, in its own format (as the previous
// layer of a model hands it over, docs/RUNTIME.md "Codes between layers"): the start oneDNN's
// entries get. act_bits: 8, or 4 (unsigned 4-bit codes: the sparse GEMM's u4 kernels).
struct Variant {
  bool codes_in = false;
  int act_bits = 8;
};
struct SternLayer {
  std::unique_ptr<IntLayer> layer;
  kernels::aligned_vector<float> x;  // 64-byte aligned, as a session's arena is
  std::vector<float> y;
  void run(ThreadPool& pool) { layer->run(x.data(), y.data(), 1, pool); }
};

std::unique_ptr<SternLayer> make_stern_layer(const Shape& s, Method method, double sparsity, Variant v) {
  const bool codes_in = v.codes_in;
  auto p = std::make_unique<SternLayer>();
  const WeightMatrix w = random_matrix(s.o, s.c * s.k * s.k, sparsity, method == Method::int8);
  const std::vector<float> scale(s.o, 1.0f), bias(s.o, 0.1f);
  const ActQuant act = v.act_bits == 4 ? ActQuant{4, 0.3f, false, 0, 15} : ActQuant{8, 0.02f, false, 0, 255};
  p->layer = std::make_unique<IntLayer>(w, geometry(s), act, scale, bias, true,
                                        kernels::IntLayerOptions{method, cpu_features().best()}, s.name);
  const std::vector<float> x = random_floats(s.c * s.h * s.w, -1.0f, 4.0f);
  p->x.assign(x.begin(), x.end());
  p->y.resize(s.o * s.oh() * s.ow());
  if (codes_in) {
    // The layer's best format, as the previous layer of a model would write it (the
    // sparse GEMM's own planes where they fit), as oneDNN gets its input in its layout.
    const std::vector<CodeFormat> formats = p->layer->code_inputs();
    if (formats.empty()) return p;
    const CodeFormat& f = formats[0];
    p->layer->take_codes(f);
    auto* bytes = reinterpret_cast<uint8_t*>(p->x.data());
    std::fill(bytes, bytes + x.size() * sizeof(float), uint8_t(f.add));
    for (int64_t c = 0; c < s.c; ++c)
      for (int64_t y = 0; y < s.h; ++y)
        for (int64_t i = 0; i < s.w; ++i)
          bytes[code_offset(f, s.c, s.h, s.w, c, y, i)] = uint8_t(quantize_activation(x[(c * s.h + y) * s.w + i], f.act) + f.add);
  }
  return p;
}

std::string stern_key(const Shape& s, Method method, double sparsity, Variant v) {
  return std::string(s.name) + kernels::method_name(method) + std::to_string(sparsity) + (v.codes_in ? "codes" : "") +
         std::to_string(v.act_bits);
}

void BM_stern(benchmark::State& state, const Shape& s, Method method, double sparsity, Variant v) {
  const int threads = int(state.range(0));
  SternLayer& st = cached<SternLayer>(stern_key(s, method, sparsity, v), [&] { return make_stern_layer(s, method, sparsity, v); });
  if (v.codes_in && st.layer->code_inputs().empty()) return state.SkipWithError("the layer takes no codes");
  ThreadPool pool(threads);
  for (auto _ : state) {
    st.run(pool);
    benchmark::DoNotOptimize(st.y.data());
  }
  counters(state, s);
  state.SetLabel(st.layer->kernel_name(1));
}

// oneDNN convolution (or matmul for the linear shapes) at u8s8 -> f32 or f32, ReLU fused.
struct DnnlLayer {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  std::string impl;
  void run(dnnl::stream& strm) {
    prim.execute(strm, args);
    strm.wait();
  }
};

std::unique_ptr<DnnlLayer> make_dnnl_layer(const Shape& s, bool int8) {
  using namespace dnnl;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  auto p = std::make_unique<DnnlLayer>();
  const dt src_t = int8 ? dt::u8 : dt::f32, w_t = int8 ? dt::s8 : dt::f32;
  primitive_attr attr;
  if (int8) attr.set_output_scales(0, {0.0002f});
  post_ops ops;
  ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
  attr.set_post_ops(ops);
  memory::desc src_md, w_md, b_md, dst_md, src_plain, w_plain;
  if (s.linear()) {
    src_md = {{1, s.c}, src_t, tag::any}, w_md = {{s.c, s.o}, w_t, tag::any};
    b_md = {{1, s.o}, dt::f32, tag::ab}, dst_md = {{1, s.o}, dt::f32, tag::ab};
    src_plain = {{1, s.c}, src_t, tag::ab}, w_plain = {{s.c, s.o}, w_t, tag::ab};
    const matmul::primitive_desc pd({src_md, w_md, b_md, dst_md}, attr, p->eng);
    p->prim = matmul(pd), p->impl = pd.impl_info_str();
    src_md = pd.src_desc(), w_md = pd.weights_desc(), dst_md = pd.dst_desc();
  } else {
    src_md = {{1, s.c, s.h, s.w}, src_t, tag::any}, w_md = {{s.o, s.c, s.k, s.k}, w_t, tag::any};
    b_md = {{s.o}, dt::f32, tag::x}, dst_md = {{1, s.o, s.oh(), s.ow()}, dt::f32, tag::any};
    src_plain = {{1, s.c, s.h, s.w}, src_t, tag::nchw}, w_plain = {{s.o, s.c, s.k, s.k}, w_t, tag::oihw};
    const convolution_forward::primitive_desc pd(
        {prop_kind::forward_inference, algorithm::convolution_direct, src_md, w_md, b_md, dst_md,
         {s.stride, s.stride}, {s.pad, s.pad}, {s.pad, s.pad}},
        attr, p->eng);
    p->prim = convolution_forward(pd), p->impl = pd.impl_info_str();
    src_md = pd.src_desc(), w_md = pd.weights_desc(), dst_md = pd.dst_desc();
  }
  stream strm(p->eng);
  const auto filled = [&](const memory::desc& plain, const memory::desc& want, float lo, float hi) {
    memory src(plain, p->eng), dst(want, p->eng);
    const size_t n = plain.get_size() / (int8 ? 1 : 4);
    uint64_t seed = 7;
    for (size_t i = 0; i < n; ++i) {
      const float u = lo + (hi - lo) * float(splitmix(seed) % 1000) / 1000.0f;
      if (!int8)
        static_cast<float*>(src.get_data_handle())[i] = u;
      else if (lo < 0)
        static_cast<int8_t*>(src.get_data_handle())[i] = int8_t(u);
      else
        static_cast<uint8_t*>(src.get_data_handle())[i] = uint8_t(u);
    }
    reorder(src, dst).execute(strm, src, dst);
    return dst;
  };
  p->args[DNNL_ARG_SRC] = filled(src_plain, src_md, 0.0f, int8 ? 200.0f : 1.0f);
  p->args[DNNL_ARG_WEIGHTS] = filled(w_plain, w_md, int8 ? -127.0f : -1.0f, int8 ? 127.0f : 1.0f);
  memory bias(b_md, p->eng);
  std::fill_n(static_cast<float*>(bias.get_data_handle()), s.o, 0.1f);
  p->args[DNNL_ARG_BIAS] = bias;
  p->args[DNNL_ARG_DST] = memory(dst_md, p->eng);
  strm.wait();
  return p;
}

void BM_dnnl(benchmark::State& state, const Shape& s, bool int8) {
  const int threads = int(state.range(0));
  omp_set_num_threads(threads);
  DnnlLayer& st = cached<DnnlLayer>(std::string(s.name) + (int8 ? "dnnl_u8s8" : "dnnl_f32") + std::to_string(threads),
                                    [&] { return make_dnnl_layer(s, int8); });
  dnnl::stream strm(st.eng);
  for (auto _ : state) st.run(strm);
  counters(state, s);
  state.SetLabel(st.impl);
}

// stern and oneDNN u8s8 on the same layer in one process, one run of each in turn, each
// timed on its own: a noisy spell of a shared machine (oneDNN's own time on the target layer
// ranged 312-644 us within minutes on the Ice Lake VM) then slows both alike, where entries
// timed seconds apart in separate processes can land one in it and not the other (an
// iteration: a block of runs of each). Counters:
// each one's median time over the iterations and peer_over_stern, the ratio of those
// medians. One thread only: on more, oneDNN's OpenMP workers spin for milliseconds after
// each run (libgomp's default) on the cores stern's pool is about to use, and with that
// spin cut short (GOMP_SPINCOUNT=10000) oneDNN's own 2-thread runs looked slower in the pair
// (218-225 us against 165-240 on their own, a noisy spell): not a fair peer there.
void BM_pair(benchmark::State& state, const Shape& s, Method method, double sparsity, Variant v) {
  struct Pair {
    std::unique_ptr<SternLayer> stern;
    std::unique_ptr<DnnlLayer> peer;
  };
  omp_set_num_threads(1);
  Pair& p = cached<Pair>("pair" + stern_key(s, method, sparsity, v), [&] {
    auto pair = std::make_unique<Pair>();
    pair->stern = make_stern_layer(s, method, sparsity, v);
    pair->peer = make_dnnl_layer(s, true);
    return pair;
  });
  if (v.codes_in && p.stern->layer->code_inputs().empty()) return state.SkipWithError("the layer takes no codes");
  ThreadPool pool(1);
  dnnl::stream strm(p.peer->eng);
  std::vector<double> stern_us, peer_us;
  using clock = std::chrono::steady_clock;
  // Blocks of untimed runs for kWarm, then kTimed timed runs, each: a run straight after the
  // other library's would find its weights out of L1 and L2, and the core's clock where the
  // other left it (oneDNN's VNNI is "heavy" AVX-512, stern's adds "light": Intel cores take
  // about 2 ms to change frequency licence).
  constexpr auto kWarm = std::chrono::milliseconds(3);
  constexpr int kTimed = 4;
  const auto block = [&](auto&& run, std::vector<double>& us) {
    for (const auto start = clock::now(); clock::now() - start < kWarm;) run();
    for (int i = 0; i < kTimed; ++i) {
      const auto t0 = clock::now();
      run();
      us.push_back(std::chrono::duration<double, std::micro>(clock::now() - t0).count());
    }
  };
  for (auto _ : state) {
    block([&] { p.stern->run(pool); }, stern_us);
    block([&] { p.peer->run(strm); }, peer_us);
  }
  const auto median = [](std::vector<double> t) {
    std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
    return t[t.size() / 2];
  };
  state.counters["stern_median_us"] = median(stern_us);
  state.counters["peer_median_us"] = median(peer_us);
  state.counters["peer_over_stern"] = median(peer_us) / median(stern_us);
  state.SetLabel(p.stern->layer->kernel_name(1) + std::string(" / ") + p.peer->impl);
}

void BM_tq2(benchmark::State& state, const Shape& s) {
  if (!cpu_features().avx2) return state.SkipWithError("needs AVX2");
  const int threads = int(state.range(0));
  struct Setup {
    bench::Tq2Matrix w;
    bench::Q8K x;
    std::vector<float> y;
  };
  Setup& st = cached<Setup>(std::string(s.name) + "tq2", [&] {
    auto p = std::make_unique<Setup>();
    p->w = bench::tq2_random(s.o, s.c, 1);
    p->x = bench::q8k_random(s.c, 2);
    p->y.resize(s.o);
    return p;
  });
  ThreadPool pool(threads);
  const int64_t chunks = 8 * threads;
  for (auto _ : state) {
    pool.parallel_for(chunks, [&](size_t c, int) {
      bench::tq2_gemv__avx2(st.w, st.x, s.o * c / chunks, s.o * (c + 1) / chunks, st.y.data());
    });
    benchmark::DoNotOptimize(st.y.data());
  }
  counters(state, s);
  state.SetLabel("tq2_0 maddubs (llama.cpp AVX2 path)");
}

void BM_dram(benchmark::State& state) {
  if (!cpu_features().avx2) return state.SkipWithError("needs AVX2");
  const int threads = int(state.range(0));
  static constexpr size_t kBytes = size_t(256) << 20;
  auto& buf = cached<std::vector<uint8_t>>("dram", [] {
    auto p = std::make_unique<std::vector<uint8_t>>(kBytes);
    for (size_t i = 0; i < kBytes; i += 4096) (*p)[i] = uint8_t(i);
    return p;
  });
  ThreadPool pool(threads);
  std::vector<uint64_t> sums(threads);
  for (auto _ : state) {
    pool.parallel_for(threads, [&](size_t t, int) {
      sums[t] = bench::stream_sum__avx2(buf.data() + kBytes / threads * t, kBytes / threads);
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(kBytes));
  state.SetLabel("streaming sum, 256 MiB");
}

// The micro-kernels alone, single thread: packed operands built once, outside the timing.
constexpr int64_t kUkM = 196, kUkK = 2304, kUkN = 256;

void BM_dense_ukernel(benchmark::State& state, const kernels::DenseKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  const bool int8 = kern.format == kernels::WeightFormat::int8;
  const WeightMatrix w = random_matrix(kUkN, kUkK, int8 ? 0.0 : 0.3, int8);
  const kernels::ColumnLayout layout = kernels::column_layout(kUkK, kUkK, kernels::kKBlock);
  const auto packed = kernels::pack_dense(w.codes.data(), kUkN, layout, kern.format);
  const size_t stride = kernels::panel_stride(layout, kern.format), panels = kUkN / kernels::kPanel;
  const int64_t m = kern.op == kernels::KernelOp::gemv ? 1 : kUkM;
  // 64-byte aligned, as the layer's rows and sums (the AMX kernel's tile rows)
  kernels::aligned_vector<uint8_t> a(m * kUkK + 64, 3);
  kernels::aligned_vector<int32_t> c(kern.mr * kUkN);
  for (auto _ : state) {
    for (int64_t i = 0; i < m; i += kern.mr)
      kern.fn(std::min<int64_t>(kern.mr, m - i), kUkK / kernels::kKBlock, a.data() + i * kUkK, kUkK,
              packed.data(), stride, panels, c.data(), kUkN);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(double(m) * kUkK * kUkN, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

// The 3x3 256->256 layer at 14x14 as the implicit and indirect convolutions see it: its int8
// weights packed, a zero-padded 16x16 NHWC image of random bytes (the tile unit's speed
// depends on the data) and the offsets of the 16-column blocks from a window.
struct ConvProduct {
  static constexpr int64_t kChannels = 256, kWp = 16, kOut = 14;
  kernels::aligned_vector<uint8_t> packed;
  size_t stride = 0, panels = kUkN / kernels::kPanel;
  // 64-byte aligned as the layer's (a tile row of 64 bytes across two lines costs the AMX
  // convolution 2x: 133 against 65 us)
  kernels::aligned_vector<uint8_t> image = kernels::aligned_vector<uint8_t>(kWp * kWp * kChannels + 64);
  std::vector<int32_t> koff = kernels::conv_block_offsets(kChannels, 3, 3, 1, 1, kWp);
  ConvProduct() {
    const WeightMatrix w = random_matrix(kUkN, kUkK, 0.0, true);
    const kernels::ColumnLayout layout = kernels::column_layout(kUkK, kUkK, kernels::kKBlock);
    packed = kernels::pack_dense(w.codes.data(), kUkN, layout, kernels::WeightFormat::int8);
    stride = kernels::panel_stride(layout, kernels::WeightFormat::int8);
    uint64_t seed = 5;
    for (int64_t y = 1; y <= kOut; ++y)
      for (int64_t x = 1; x <= kOut; ++x)
        for (int64_t ch = 0; ch < kChannels; ++ch) image[(y * kWp + x) * kChannels + ch] = uint8_t(splitmix(seed));
  }
};

// The indirect GEMM on that product (kUkM = 196 output pixels, kUkK = 2304 columns), with the
// GEMM entries above as its peers (their im2col rows made outside the timing).
void BM_igemm_ukernel(benchmark::State& state, const kernels::IgemmKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  const ConvProduct p;
  const std::vector<int32_t> window = kernels::conv_window_offsets(p.kOut, p.kOut, 1, 1, p.kChannels, p.kWp);
  std::vector<int32_t> c(kUkM * kUkN);
  for (auto _ : state) {
    kern.fn(kUkM, kUkK / kernels::kKBlock, p.image.data(), window.data(), p.koff.data(), p.packed.data(), p.stride,
            p.panels, c.data(), kUkN);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(double(kUkM) * kUkK * kUkN, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

// The implicit convolution on that product, in calls of kConvTiles row tiles as the layer
// makes them: tiles of one output row (14 pixels, 14 tiles) or of 16 pixels of the padded
// width (224 virtual pixels, 14 tiles, 2 padding columns per row computed).
void BM_conv_ukernel(benchmark::State& state, const kernels::ConvKernel& kern, bool row_tiles) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  const ConvProduct p;
  const int64_t h = row_tiles ? p.kOut : 16, pitch = row_tiles ? p.kWp : 16, m = row_tiles ? kUkM : p.kOut * p.kWp;
  const int64_t per_call = int64_t(kernels::kConvTiles) * h;
  kernels::aligned_vector<int32_t> c(m * kUkN);  // as the layer's sums
  for (auto _ : state) {
    for (int64_t i = 0; i < m; i += per_call)
      kern.fn(std::min(per_call, m - i), kUkK / kernels::kKBlock, p.image.data() + i / h * pitch * p.kChannels,
              p.kChannels, h, pitch, p.koff.data(), p.packed.data(), p.stride, p.panels, c.data() + i * kUkN, kUkN);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(double(kUkM) * kUkK * kUkN, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
}

// The sparse GEMM alone on the 3x3 256->256 layer at 14x14 (kUkK = 2304 columns, 90% sparse,
// one thread): shifted windows of zero-padded 16x16 channel planes 320 bytes apart, 222
// virtual pixels (tiles of 64, 64 and 94 lanes, as the runtime makes them), columns in two
// segments of 128 channels; packed (the p4 kernels): planes of 9 rows of two codes per byte
// 192 bytes apart, 110 virtual pixels (64 and 46).
void BM_sparse_gemm_ukernel(benchmark::State& state, const kernels::SparseGemmKernel& kern, bool packed) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  constexpr int64_t kChannels = 256, kBlock = 128, kTaps = 9, kWp = 16;
  const int64_t plane = packed ? 192 : 320, virtual_pixels = ((packed ? 7 : 14) - 1) * kWp + 14;
  const size_t ldc = packed ? 2 * kernels::kSparseTile : kernels::kSparseTileLanes;
  const int64_t tiles = kernels::sparse_tile_count(virtual_pixels, packed);
  static_assert(kChannels * kTaps == kUkK);
  const WeightMatrix w = random_matrix(kUkN, kUkK, 0.9, false);
  const kernels::ColumnLayout layout = kernels::column_layout(kUkK, kUkK, kernels::kSparseBlock);
  std::vector<int64_t> kperm(kUkK);
  std::vector<int32_t> offset(layout.padded_cols(), 0), c(kUkN * ldc);
  for (int64_t t = 0; t < kTaps; ++t)
    for (int64_t ch = 0; ch < kChannels; ++ch) {
      const int64_t k = t * kChannels + ch;
      kperm[k] = ch / kBlock * kTaps * kBlock + t * kBlock + ch % kBlock;
      offset[kperm[k]] = int32_t(ch * plane + t / 3 * kWp + t % 3);
    }
  const kernels::SparseRows rows =
      kernels::pack_sparse(w.codes.data(), kUkN, layout, kperm, kTaps * kBlock, offset, "bench");
  std::vector<uint8_t> at(kChannels * plane + virtual_pixels + 128, 3);
  for (auto _ : state) {
    for (int64_t t = 0; t < tiles; ++t)
      kern.fn(at.data() + 64 * t, rows, 0, kUkN, 0, kernels::sparse_tile_end(t, virtual_pixels, packed) - 64 * t,
              c.data(), ldc);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GMAC/s"] = benchmark::Counter(double(kUkM) * kUkK * kUkN, benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::kIs1000);
  state.SetLabel("90% sparse; dense-equivalent MAC rate");
}

std::string pct(double sparsity) { return std::to_string(int(sparsity * 100 + 0.5)); }

// The sparse GEMV alone on 4096x4096 (weights in L2 / L3: compute, not DRAM), one thread.
void BM_sparse_gemv_ukernel(benchmark::State& state, const kernels::SparseGemvKernel& kern, double sparsity) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  constexpr int64_t kN = 4096, kK = 4096;
  const WeightMatrix w = random_matrix(kN, kK, sparsity, false);
  const kernels::ColumnLayout layout = kernels::column_layout(kK, kK, kernels::kSparseBlock);
  const kernels::SparseBands bands =
      kernels::pack_sparse_bands(w.codes.data(), kN, layout, 0, kernels::sparse_gemv_pass_lanes(kern));
  std::vector<uint8_t> x(kK + 64, 3);
  std::vector<int32_t> y(bands.bands() * bands.band);
  for (auto _ : state) {
    kern.fn(x.data(), bands, 0, bands.bands(), y.data());
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["Gweights/s"] = benchmark::Counter(double(kN) * kK, benchmark::Counter::kIsIterationInvariantRate,
                                                    benchmark::Counter::kIs1000);
  state.SetLabel(pct(sparsity) + "% sparse, band " + std::to_string(bands.band) + ", " +
                 std::to_string(bands.bytes.size() * 8.0 / (double(kN) * kK)).substr(0, 4) + " bits/weight");
}

// The fixed-cost kernels alone on the 3x3 256->256 layer at 14x14 (one image: 256 planes of
// 14x14, output 256 x 196), single thread.
constexpr size_t kFixC = 256, kFixH = 14, kFixW = 14, kFixHW = kFixH * kFixW, kFixWp = 16;

// As the sparse layer does it: each plane's rows into a padded plane (stride 16, 5 lines apart).
void BM_quantize_ukernel(benchmark::State& state, const kernels::QuantizeKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  const std::vector<float> x = random_floats(kFixC * kFixHW, -1.0f, 4.0f);
  const ActQuant act{8, 0.02f, false, 0, 255};
  constexpr size_t kPlane = 320;
  std::vector<uint8_t> out(kFixC * kPlane);
  for (auto _ : state) {
    for (size_t c = 0; c < kFixC; ++c)
      kern.fn(x.data() + c * kFixHW, kFixH, kFixW, kFixW, act, 0, out.data() + c * kPlane + kFixWp + 1, kFixWp);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(x.size()));
}

// The image's codes (handed over by the previous layer) into the same padded planes.
void BM_copy_rows_ukernel(benchmark::State& state, const kernels::CopyRowsKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  std::vector<uint8_t> x(kFixC * kFixHW, 7);
  constexpr size_t kPlane = 320;
  std::vector<uint8_t> out(kFixC * kPlane);
  for (auto _ : state) {
    for (size_t c = 0; c < kFixC; ++c)
      kern.fn(x.data() + c * kFixHW, kFixH, kFixW, kFixW, out.data() + c * kPlane + kFixWp + 1, kFixWp);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(x.size()));
}

// The Fashion VGG's first pool: 16 planes of 28x28 floats to 14x14.
void BM_max_pool_2x2_ukernel(benchmark::State& state, const kernels::MaxPool2x2Kernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  constexpr size_t kPlanes = 16, kIn = 28, kOut = 14;
  std::vector<float> x(kPlanes * kIn * kIn, 0.5f), y(kPlanes * kOut * kOut);
  for (auto _ : state) {
    for (size_t p = 0; p < kPlanes; ++p) kern.fn(x.data() + p * kIn * kIn, kOut, kOut, kIn, y.data() + p * kOut * kOut, kOut);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(y.size()));
}

// A stride-2 layer's padded planes dealt out to their phases: 128 channels of 28x28 padded to
// 30x30 (the 3x3 128->256 layer at stride 2), four 15x15 phases each.
void BM_deal_phases_ukernel(benchmark::State& state, const kernels::DealPhasesKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  constexpr size_t kChannels = 128, kPhaseSide = 15, kPlane = 4 * kPhaseSide * kPhaseSide, kStride = 256;
  std::vector<uint8_t> planes(kChannels * kPlane, 7), out(kChannels * 4 * kStride);
  for (auto _ : state) {
    for (size_t c = 0; c < kChannels; ++c)
      kern.fn(planes.data() + c * kPlane, 2, 2, kPhaseSide, kPhaseSide, kStride, out.data() + c * 4 * kStride);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(planes.size()));
}

// The image into the padded NHWC bytes of the implicit convolution, as the dense layer does it.
void BM_quantize_nhwc_ukernel(benchmark::State& state, const kernels::QuantizeNhwcKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  const std::vector<float> x = random_floats(kFixC * kFixHW, -1.0f, 4.0f);
  const ActQuant act{8, 0.02f, false, 0, 255};
  std::vector<uint8_t> out(kFixC * kFixWp * kFixWp);
  for (auto _ : state) {
    kern.fn(x.data(), kFixC, kFixH, kFixW, kFixHW, act, 0, out.data() + (kFixWp + 1) * kFixC, kFixC, kFixWp * kFixC);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(x.size()));
}

// The dense epilogue's tiles as the layer makes them: 32 pixels x 64 channels of the 256 x
// 14 x 14 output, tile(raw, ldr, e, m0, n0, rows, cols) for each, `out` (its bytes) kept live.
template <typename Out, typename Tile>
void epilogue_tiles(benchmark::State& state, const std::vector<Out>& out, const Tile& tile) {
  constexpr size_t kMr = 32, kNc = 64;
  std::vector<int32_t> raw(kMr * kNc, 1000), wsum(kFixC, 5);
  std::vector<float> scale(kFixC, 0.01f), bias(kFixC, 0.1f);
  for (auto _ : state) {
    for (size_t n0 = 0; n0 < kFixC; n0 += kNc)
      for (size_t m0 = 0; m0 < kFixHW; m0 += kMr) {
        const kernels::EpilogueArgs e{wsum.data() + n0, -128, nullptr, scale.data() + n0, bias.data() + n0, 0.0f, nullptr};
        tile(raw.data(), kNc, e, m0, n0, std::min(kMr, kFixHW - m0), kNc);
      }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(out.size()));
}

// The dense epilogue to NCHW floats.
void BM_epilogue_ukernel(benchmark::State& state, const kernels::EpilogueKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  std::vector<float> out(kFixC * kFixHW);
  epilogue_tiles(state, out, [&](const int32_t* raw, size_t ldr, const kernels::EpilogueArgs& e, size_t m0, size_t n0,
                                 size_t rows, size_t cols) {
    kern.fn(raw, ldr, rows, cols, e, out.data() + n0 * kFixHW + m0, 1, kFixHW);
  });
}

// The requantizing epilogue into the next layer's NHWC codes; its peer is the float epilogue
// above followed by ukernel/quantize_nhwc_* on the same image.
void BM_epilogue_codes_ukernel(benchmark::State& state, const kernels::EpilogueCodesKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  std::vector<uint8_t> out(kFixC * kFixHW);
  const ActQuant act{8, 0.02f, false, 0, 255};
  epilogue_tiles(state, out, [&](const int32_t* raw, size_t ldr, const kernels::EpilogueArgs& e, size_t m0, size_t n0,
                                 size_t rows, size_t cols) {
    kern.fn(raw, ldr, rows, cols, e, act, 0, out.data() + m0 * kFixC + n0, kFixC);
  });
}

// The sparse GEMM's epilogue: per 64-lane tile and channel, the tile's 14-pixel row runs.
void BM_runs_epilogue_ukernel(benchmark::State& state, const kernels::RunsEpilogueKernel& kern) {
  if (!kern.needs.met()) return state.SkipWithError("CPU lacks the ISA");
  std::vector<int32_t> raw(kFixC * kernels::kSparseTile, 1000), wsum(kFixC, 3);
  std::vector<float> out(kFixC * kFixHW), scale(kFixC, 0.01f), bias(kFixC, 0.1f);
  const kernels::EpilogueArgs e{wsum.data(), -5, nullptr, scale.data(), bias.data(), 0.0f, nullptr};
  std::vector<kernels::Run> runs;
  for (int32_t oh = 0; oh < int32_t(kFixH); ++oh)
    runs.push_back({oh % 4 * int32_t(kFixWp), oh * int32_t(kFixW), int32_t(kFixW)});
  for (auto _ : state) {
    for (size_t t = 0; t < runs.size(); t += 4)
      kern.fn(raw.data(), kernels::kSparseTile, kFixC, runs.data() + t, std::min<size_t>(4, runs.size() - t), e,
              out.data(), 1, kFixHW);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(out.size()));
}

template <typename K>
void add_ukernels(std::span<const K> table, void (*fn)(benchmark::State&, const K&)) {
  for (const K& k : table)
    benchmark::RegisterBenchmark((std::string("ukernel/") + k.name).c_str(), fn, k)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
}

void add(const std::string& name, auto fn, auto... args) {
  benchmark::RegisterBenchmark(name.c_str(), fn, args...)
      ->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// A BM_pair entry (one thread: no thread argument).
void add_pair(const std::string& name, const Shape& s, Method method, double sparsity) {
  benchmark::RegisterBenchmark(name.c_str(), BM_pair, s, method, sparsity, Variant{true})
      ->UseRealTime()->Unit(benchmark::kMicrosecond);
}

const int kRegistered = [] {
  benchmark::RegisterBenchmark("dram/read", BM_dram)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (const Shape& s : kGemv) {
    const std::string n = std::string("gemv/") + s.name + "/";
    add(n + "stern_ternary_dense", BM_stern, s, Method::ternary_dense, 0.0, Variant{});
    for (double sp : kSparsities)
      if (sp > 0) add(n + "stern_ternary_sparse_" + pct(sp), BM_stern, s, Method::ternary_sparse, sp, Variant{});
    add(n + "stern_int8", BM_stern, s, Method::int8, 0.0, Variant{});
    add(n + "tq2_0", BM_tq2, s);
    add(n + "dnnl_u8s8", BM_dnnl, s, true);
    add(n + "dnnl_f32", BM_dnnl, s, false);
  }
  for (const Shape& s : kConv) {
    const std::string n = std::string("conv/") + s.name + "/";
    add(n + "stern_ternary_dense", BM_stern, s, Method::ternary_dense, 0.0, Variant{});
    for (double sp : kSparsities)
      if (sp > 0) {
        add(n + "stern_ternary_sparse_" + pct(sp), BM_stern, s, Method::ternary_sparse, sp, Variant{});
        // What the runtime runs for a ternary layer of this sparsity (its label names the kernel).
        add(n + "stern_ternary_auto_" + pct(sp), BM_stern, s,
            choose_ternary_method(geometry(s), s.c * s.k * s.k, 1.0 - sp), sp, Variant{});
      }
    add(n + "stern_int8", BM_stern, s, Method::int8, 0.0, Variant{});
    add(n + "dnnl_u8s8", BM_dnnl, s, true);
    add(n + "dnnl_f32", BM_dnnl, s, false);
    if (&s == &kConv[0]) {  // the target layer, from codes as oneDNN's entries start; 4-bit codes
      add(n + "stern_ternary_dense_codes_in", BM_stern, s, Method::ternary_dense, 0.0, Variant{true});
      add_pair(n + "pair_dnnl_u8s8_stern_ternary_dense_codes_in", s, Method::ternary_dense, 0.0);
      for (double sp : {0.9, 0.98}) {
        add(n + "stern_ternary_sparse_" + pct(sp) + "_codes_in", BM_stern, s, Method::ternary_sparse, sp, Variant{true});
        add_pair(n + "pair_dnnl_u8s8_stern_ternary_sparse_" + pct(sp) + "_codes_in", s, Method::ternary_sparse, sp);
        add(n + "stern_ternary_sparse_" + pct(sp) + "_a4", BM_stern, s, Method::ternary_sparse, sp, Variant{false, 4});
        add(n + "stern_ternary_sparse_" + pct(sp) + "_a4_codes_in", BM_stern, s, Method::ternary_sparse, sp,
            Variant{true, 4});
      }
    }
  }
  for (const kernels::DenseKernel& k : kernels::dense_kernels())
    benchmark::RegisterBenchmark((std::string("ukernel/") + k.name).c_str(), BM_dense_ukernel, k)
        ->UseRealTime()->Unit(benchmark::kMicrosecond);
  add_ukernels(kernels::igemm_kernels(), BM_igemm_ukernel);
  for (const kernels::ConvKernel& k : kernels::conv_kernels())
    for (const bool row_tiles : {true, false})
      benchmark::RegisterBenchmark((std::string("ukernel/") + k.name + (row_tiles ? "/row_tiles" : "/padded_width")).c_str(),
                                   BM_conv_ukernel, k, row_tiles)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (const kernels::SparseGemvKernel& k : kernels::sparse_gemv_kernels())
    for (double sp : {0.9, 0.95, 0.98})
      benchmark::RegisterBenchmark((std::string("ukernel/") + k.name + "/" + pct(sp)).c_str(), BM_sparse_gemv_ukernel, k, sp)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
  // The general, u4 (its scalar entry is the sparse_gemm one) and p4 tables; the activation
  // bytes are 3.
  for (const auto& [prefix, table, packed] :
       {std::tuple{"ukernel/", kernels::sparse_gemm_kernels(), false},
        std::tuple{"ukernel/u4/", kernels::sparse_gemm_u4_kernels(), false},
        std::tuple{"ukernel/", kernels::sparse_gemm_p4_kernels(), true}})
    for (const kernels::SparseGemmKernel& k : table)
      benchmark::RegisterBenchmark((std::string(prefix) + k.name).c_str(), BM_sparse_gemm_ukernel, k, packed)
          ->UseRealTime()->Unit(benchmark::kMicrosecond);
  add_ukernels(kernels::quantize_kernels(), BM_quantize_ukernel);
  add_ukernels(kernels::quantize_nhwc_kernels(), BM_quantize_nhwc_ukernel);
  add_ukernels(kernels::copy_rows_kernels(), BM_copy_rows_ukernel);
  add_ukernels(kernels::deal_phases_kernels(), BM_deal_phases_ukernel);
  add_ukernels(kernels::epilogue_kernels(), BM_epilogue_ukernel);
  add_ukernels(kernels::epilogue_codes_kernels(), BM_epilogue_codes_ukernel);
  add_ukernels(kernels::runs_epilogue_kernels(), BM_runs_epilogue_ukernel);
  add_ukernels(kernels::max_pool_2x2_kernels(), BM_max_pool_2x2_ukernel);
  return 0;
}();

}  // namespace
}  // namespace stern

BENCHMARK_MAIN();
