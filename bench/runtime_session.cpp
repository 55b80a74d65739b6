// Whole networks through stern::Session (planning, fused epilogues, arena, thread pool):
// LeNet-5 on 1x28x28 and a CIFAR ResNet-8 (BatchNorm folded, residual adds, strided 1x1
// projections) on 3x32x32, batch 1 and 64, 1 and 2 threads. The 1-thread runs are the peer
// of the 2-thread runs: they show what the second core buys end to end.
#include <benchmark/benchmark.h>

#include "runtime/reference.h"
#include "stern/runtime.h"

namespace stern {
namespace {

using test::Floats;
using test::GraphBuilder;
using Ints = std::vector<int64_t>;

Attributes conv_attrs(int64_t stride, int64_t pad) {
  return {{"strides", Ints{stride, stride}}, {"pads", Ints{pad, pad, pad, pad}}};
}

struct NetBuilder {
  GraphBuilder gb;
  uint32_t seed = 1;
  int n = 0;

  std::string conv(const std::string& x, int64_t in, int64_t out, int64_t k, int64_t stride,
                   int64_t pad, bool bn, bool relu) {
    const std::string id = std::to_string(++n);
    gb.tensor("w" + id, {out, k, k, in}, test::random_floats(out * k * k * in, ++seed, -0.2f, 0.2f));
    std::string y = "c" + id;
    gb.node(OpType::conv2d, "conv" + id, {x, "w" + id}, y, conv_attrs(stride, pad));
    if (bn) {
      for (const char* p : {"s", "b", "m"}) gb.tensor(p + id, {out}, test::random_floats(out, ++seed));
      gb.tensor("v" + id, {out}, test::random_floats(out, ++seed, 0.5f, 1.5f));
      gb.node(OpType::batch_norm, "bn" + id, {y, "s" + id, "b" + id, "m" + id, "v" + id}, "n" + id);
      y = "n" + id;
    }
    if (relu) gb.node(OpType::relu, "relu" + id, {y}, "r" + id), y = "r" + id;
    return y;
  }
  std::string linear(const std::string& x, int64_t in, int64_t out, bool relu) {
    const std::string id = std::to_string(++n);
    gb.tensor("w" + id, {out, in}, test::random_floats(out * in, ++seed, -0.2f, 0.2f));
    gb.tensor("b" + id, {out}, test::random_floats(out, ++seed));
    gb.node(OpType::linear, "fc" + id, {x, "w" + id, "b" + id}, "l" + id);
    if (!relu) return "l" + id;
    gb.node(OpType::relu, "relu" + id, {"l" + id}, "r" + id);
    return "r" + id;
  }
  std::string op(OpType type, std::vector<std::string> in, Attributes attrs = {}) {
    std::string id = "o";  // appended, not "o" + to_string(): GCC 12 -Wrestrict false positive
    id += std::to_string(++n);
    gb.node(type, id, std::move(in), id, std::move(attrs));
    return id;
  }
};

Graph lenet5() {
  NetBuilder b;
  b.gb.input("x", {-1, 1, 28, 28});
  const Attributes pool = {{"kernel", Ints{2, 2}}, {"strides", Ints{2, 2}}};
  std::string h = b.op(OpType::max_pool, {b.conv("x", 1, 6, 5, 1, 2, false, true)}, pool);
  h = b.op(OpType::max_pool, {b.conv(h, 6, 16, 5, 1, 0, false, true)}, pool);
  h = b.op(OpType::flatten, {h});
  h = b.linear(b.linear(h, 400, 120, true), 120, 84, true);
  return b.gb.done({b.linear(h, 84, 10, false)});
}

Graph resnet8() {
  NetBuilder b;
  b.gb.input("x", {-1, 3, 32, 32});
  std::string h = b.conv("x", 3, 16, 3, 1, 1, true, true);
  int64_t c = 16;
  for (int64_t out : {16, 32, 64}) {
    const int64_t stride = out == c ? 1 : 2;
    const std::string shortcut = out == c ? h : b.conv(h, c, out, 1, stride, 0, true, false);
    const std::string y = b.conv(b.conv(h, c, out, 3, stride, 1, true, true), out, out, 3, 1, 1, true, false);
    h = b.op(OpType::relu, {b.op(OpType::add, {y, shortcut})});
    c = out;
  }
  h = b.op(OpType::flatten, {b.op(OpType::global_avg_pool, {h})});
  return b.gb.done({b.linear(h, 64, 10, false)});
}

void BM_session(benchmark::State& state, Graph (*make)(), Ints image) {
  const int64_t batch = state.range(0);
  Session s(make(), test::options(static_cast<int>(state.range(1))));
  image.insert(image.begin(), batch);
  const std::vector<FloatTensor> x = {test::random_tensor(image, 7)};
  for (auto _ : state) benchmark::DoNotOptimize(s.run(x));
  state.counters["images_per_s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["arena_bytes"] = double(s.memory(batch).arena_bytes);
}

BENCHMARK_CAPTURE(BM_session, lenet5, lenet5, Ints{1, 28, 28})
    ->ArgsProduct({{1, 64}, {1, 2}})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_session, resnet8, resnet8, Ints{3, 32, 32})
    ->ArgsProduct({{1, 64}, {1, 2}})->UseRealTime()->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace stern
