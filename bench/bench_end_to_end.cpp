// End to end (issue 4's last target): a sparse-ternary VGG-style Fashion-MNIST model run by
// stern vs LibTorch FP32 eval of the same architecture, batch 1 and 64, 1 and 2 threads, in
// one run. The stern model is the trained one named by $STERN_E2E_MODEL (for example
// build/demo/vgg-sparse-ternary.stern from scripts/demo.sh); without it, the same network is
// built here with random weights whose ternary thresholds give $STERN_E2E_SPARSITY
// (default 0.9) body sparsity, which is what the kernels' speed depends on.
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>
#include <random>

#include "stern/format.h"
#include "stern/runtime.h"
#include "train/export.h"
#include "train/models.h"

namespace {

using stern::train::NetSpec;
using stern::train::WeightQuant;

NetSpec vgg_spec(WeightQuant body) {
  NetSpec s;
  s.model = "vgg";
  s.body.kind = body;
  if (body != WeightQuant::none) {
    s.edge.kind = WeightQuant::uniform;  // 8-bit first and last layers, as the recipe
    s.edge.edge = true;
    s.body.act_bits = s.edge.act_bits = 8;
  }
  return s;
}

// Sets each body layer's learnable threshold so that `sparsity` of its weights quantize to
// zero, calibrates activation scales with one pass, and exports.
stern::Graph synthesized_sparse_ternary(double sparsity) {
  torch::manual_seed(3);
  stern::train::Net net = stern::train::build_net(vgg_spec(WeightQuant::ternary));
  torch::NoGradGuard no_grad;
  for (auto& layer : net->layers) {
    if (layer->spec().kind != WeightQuant::ternary) continue;
    const torch::Tensor a = layer->weight.abs().flatten();
    const double delta = std::get<0>(a.sort()).index({int64_t(sparsity * double(a.numel() - 1))}).item<double>();
    layer->threshold_t.fill_(delta / a.mean().item<double>());
  }
  net->forward(torch::rand({64, 1, 28, 28}));
  net->eval();
  return stern::train::export_graph(*net, {});
}

const stern::Graph& stern_model() {
  static const stern::Graph graph = [] {
    if (const char* path = std::getenv("STERN_E2E_MODEL")) return stern::load_model(path);
    const char* s = std::getenv("STERN_E2E_SPARSITY");
    return synthesized_sparse_ternary(s ? std::atof(s) : 0.9);
  }();
  return graph;
}

void BM_LibTorchFp32(benchmark::State& state) {
  const int64_t batch = state.range(0);
  torch::set_num_threads(int(state.range(1)));
  torch::manual_seed(3);
  stern::train::Net net = stern::train::build_net(vgg_spec(WeightQuant::none));
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::rand({batch, 1, 28, 28});
  for (auto _ : state) benchmark::DoNotOptimize(net->forward(x));
  state.counters["images_per_s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SternSparseTernary(benchmark::State& state) {
  const int64_t batch = state.range(0);
  stern::SessionOptions options;
  options.threads = int(state.range(1));
  stern::Session session(stern_model(), options);
  stern::FloatTensor x;
  x.shape = {batch, 1, 28, 28};
  x.data.resize(batch * 28 * 28);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : x.data) v = u(rng);
  for (auto _ : state) benchmark::DoNotOptimize(session.run({x}));
  state.counters["images_per_s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

// args: batch, threads
BENCHMARK(BM_LibTorchFp32)->ArgsProduct({{1, 64}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SternSparseTernary)->ArgsProduct({{1, 64}, {1, 2}})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
