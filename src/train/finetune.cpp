// FGQ fine-tuning (finetune.h): FP32 graph -> Net with FGQ's quantizers -> Adam with cosine
// decay on the training split -> export_graph, so the runtime runs exactly what LibTorch
// evaluated.
#include "stern/finetune.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "stern/error.h"
#include "stern/shape.h"
#include "train/data.h"
#include "train/export.h"
#include "train/graph_net.h"

namespace stern {
namespace {

using train::Granularity;
using train::QuantSpec;
using train::WeightQuant;

// The FGQ policy of fgq_quantize_weights as a training quantizer: body layers ternary per
// group of N OHWI columns (or per output channel) with the exact L2-optimal threshold, the
// first and last layer at --first-last-bits per output channel (2: ternary like the rest,
// 32: FP32).
QuantSpec fgq_layer_spec(const FgqOptions& o, bool edge, double ste_clip) {
  QuantSpec q;
  q.edge = edge;
  q.clip = ste_clip;
  q.threshold = train::ThresholdRule::exact;
  q.asymmetric = o.asymmetric;
  const int bits = edge ? o.first_last_bits : 2;
  if (bits == 2) {
    q.kind = WeightQuant::ternary;
    q.granularity = o.group == 0 ? Granularity::channel : Granularity::group;
    q.group_size = o.group;
  } else if (bits != 32) {
    q.kind = WeightQuant::uniform;
    q.bits = bits;
  }
  return q;
}

void validate(const FgqFinetuneConfig& c) {
  const std::string where = "fgq fine-tuning";
  if (c.data.empty()) fail(where, "needs a dataset (--calib mnist | fashion-mnist)");
  if (!(c.epochs > 0)) fail(where, "epochs must be positive");
  if (!(c.lr > 0)) fail(where, "learning rate must be positive");
  if (c.batch_size < 1) fail(where, "batch size must be at least 1");
  if (c.threads < 1) fail(where, "threads must be at least 1");
}

// The calibrated graph with the FP32 weights back in its weight layers: the shadow weights
// training starts from.
Graph with_fp32_weights(const Graph& fp32, const Graph& calibrated) {
  Graph g = calibrated;
  for (const Node& n : g.nodes) {
    if (n.op != OpType::conv2d && n.op != OpType::linear) continue;
    const Tensor* src = fp32.find_tensor(n.inputs.at(1));
    if (src == nullptr) {
      fail("fgq fine-tuning: node '" + n.name + "'",
           "weight '" + n.inputs[1] + "' is not in the FP32 model");
    }
    *g.find_tensor(n.inputs[1]) = *src;
  }
  return g;
}

void update_report(const Graph& fp32, const Graph& tuned, FgqReport& r) {
  r.weight_bytes = 0;
  for (FgqLayerReport& l : r.layers) {
    auto node = std::find_if(tuned.nodes.begin(), tuned.nodes.end(),
                             [&](const Node& n) { return n.name == l.node; });
    auto src = std::find_if(fp32.nodes.begin(), fp32.nodes.end(),
                            [&](const Node& n) { return n.name == l.node; });
    if (node == tuned.nodes.end() || src == fp32.nodes.end()) {
      fail("fgq fine-tuning: node '" + l.node + "'", "missing from the fine-tuned model");
    }
    const Tensor& t = *tuned.find_tensor(node->inputs.at(1));
    const torch::Tensor q = torch::tensor(t.to_floats());
    const torch::Tensor w = torch::tensor(fp32.find_tensor(src->inputs.at(1))->to_floats(), torch::kDouble);
    const double norm = w.norm().item<double>();
    l.relative_l2_error = norm > 0 ? (w - q.to(torch::kDouble)).norm().item<double>() / norm : 0.0;
    l.sparsity = q.numel() > 0 ? q.eq(0).to(torch::kDouble).mean().item<double>() : 0.0;
    l.encoding = encoding_traits(t.encoding).name;
    l.act_scale = attr_float(node->attrs, "act_scale", 0.0);  // learned (LSQ)
    l.weight_bytes = static_cast<int64_t>(t.payload.size());
    r.weight_bytes += l.weight_bytes;
  }
}

}  // namespace

Graph fgq_finetune(const Graph& fp32, const Graph& calibrated, const FgqOptions& options,
                   const FgqFinetuneConfig& config, FgqReport* report, FgqFinetuneResult* result,
                   const std::function<void(const FgqFinetuneEpoch&)>& on_epoch) {
  using Clock = std::chrono::steady_clock;
  validate(config);
  torch::set_num_threads(config.threads);
  torch::manual_seed(config.seed);
  train::GraphNet gn = train::net_from_graph(
      with_fp32_weights(fp32, calibrated), [&](const Node&, size_t index, size_t count) {
        return fgq_layer_spec(options, index == 0 || index + 1 == count, config.ste_clip);
      });
  train::Net& net = gn.net;

  DatasetSplit split = load_dataset(config.data);
  if (config.train_limit > 0) split.train = split.train.head(config.train_limit);
  if (config.test_limit > 0) split.test = split.test.head(config.test_limit);
  const std::vector<int64_t> dims{split.train.channels, split.train.height, split.train.width};
  if (dims != net->input_shape) {
    fail("fgq fine-tuning: dataset '" + config.data + "'",
         "images are " + shape_to_string(dims) + "; the model expects " +
             shape_to_string(net->input_shape));
  }
  const train::Tensors train_set = train::to_tensors(split.train);
  const train::Tensors test_set = train::to_tensors(split.test);

  FgqFinetuneResult r;
  r.accuracy_before = train::evaluate(net, test_set);
  std::vector<torch::Tensor> params;
  for (const torch::Tensor& p : net->parameters()) {
    if (p.requires_grad()) params.push_back(p);
  }
  torch::optim::Adam adam(params, torch::optim::AdamOptions(config.lr));
  const int64_t n = train_set.x.size(0), bs = config.batch_size;
  const int64_t per_epoch = (n + bs - 1) / bs;
  r.steps = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(config.epochs * double(per_epoch))));
  net->train();
  int64_t step = 0;
  for (int pass = 0; step < r.steps; ++pass) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(config.seed * 1000003ULL + pass));
    const torch::Tensor perm = torch::tensor(order, torch::kLong);
    const auto start = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < per_epoch && step < r.steps; ++b, ++step) {
      const double lr = 0.5 * config.lr * (1 + std::cos(M_PI * double(step) / double(r.steps)));
      static_cast<torch::optim::AdamOptions&>(adam.param_groups()[0].options()).lr(lr);
      const torch::Tensor idx = perm.slice(0, b * bs, std::min(n, (b + 1) * bs));
      const torch::Tensor x = train_set.x.index_select(0, idx), y = train_set.y.index_select(0, idx);
      const torch::Tensor logits = net->forward(x);
      const torch::Tensor loss = torch::cross_entropy_loss(logits, y);
      adam.zero_grad();
      loss.backward();
      adam.step();
      loss_sum += loss.item<double>() * double(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += idx.size(0);
    }
    FgqFinetuneEpoch e;
    e.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    r.train_seconds += e.seconds;
    e.epochs = double(step) / double(per_epoch);
    e.loss = loss_sum / double(std::max<int64_t>(seen, 1));
    e.train_accuracy = double(correct) / double(std::max<int64_t>(seen, 1));
    e.test_accuracy = train::evaluate(net, test_set);
    r.log.push_back(e);
    if (on_epoch) on_epoch(e);
  }
  r.accuracy_after = r.log.back().test_accuracy;

  Attributes meta = calibrated.metadata;
  meta["fgq_finetune_epochs"] = config.epochs;
  meta["fgq_finetune_dataset"] = config.data;
  meta["fgq_finetune_lr"] = config.lr;
  meta["train_test_accuracy"] = r.accuracy_after;
  Graph tuned = train::export_graph(*net, meta);
  // export_graph names layers by index; give them back their graph names (reports, inspect).
  size_t k = 0;
  for (Node& node : tuned.nodes) {
    if (node.op == OpType::conv2d || node.op == OpType::linear) node.name = gn.layer_nodes.at(k++);
  }
  if (report) update_report(fp32, tuned, *report);
  if (result) *result = std::move(r);
  return tuned;
}

}  // namespace stern
