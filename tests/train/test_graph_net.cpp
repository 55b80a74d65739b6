// Graph -> LibTorch Net (graph_net.h) against the runtime Session on the same graph, FGQ's
// group quantizer in LibTorch against fgq_quantize_weights, and FGQ fine-tuning
// (finetune.h) on real MNIST digits with the exported model checked in the runtime.
#include <gtest/gtest.h>

#include "stern/dataset.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/finetune.h"
#include "stern/format.h"
#include "stern/runtime.h"
#include "stern/train.h"
#include "train/export.h"
#include "train/graph_net.h"

namespace stern::train {
namespace {

QuantSpec fp32_layers(const Node&, size_t, size_t) { return {}; }

torch::Tensor runtime_logits(const Graph& g, const torch::Tensor& x) {
  Session session(load_model_from_memory(serialize_model(g), "graph"));
  FloatTensor in;
  in.shape = x.sizes().vec();
  in.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const FloatTensor out = session.run({in})[0];
  return torch::tensor(out.data).reshape(out.shape);
}

torch::Tensor torch_logits(const Graph& g, const torch::Tensor& x) {
  GraphNet gn = net_from_graph(g, fp32_layers);
  torch::NoGradGuard no_grad;
  gn.net->eval();
  return gn.net->forward(x);
}

double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>() / b.abs().max().item<double>();
}

// A model as an importer writes it: conv with bias, ReLU as clip(min 0), max-pool,
// reshape to [N, -1], linear layers.
Graph imported_style_cnn() {
  torch::manual_seed(11);
  Graph g;
  g.inputs.push_back({"image", {-1, 1, 12, 12}});
  auto add_tensor = [&](const std::string& name, std::vector<int64_t> shape, double bound) {
    const torch::Tensor t = torch::empty(shape).uniform_(-bound, bound).contiguous();
    g.tensors.push_back(Tensor::from_floats(name, shape, {t.data_ptr<float>(), size_t(t.numel())}));
  };
  add_tensor("c.w", {8, 3, 3, 1}, 0.5);
  add_tensor("c.b", {8}, 0.1);
  add_tensor("f1.w", {16, 8 * 6 * 6}, 0.1);
  add_tensor("f1.b", {16}, 0.1);
  add_tensor("f2.w", {10, 16}, 0.3);
  g.nodes.push_back({OpType::conv2d, "conv", {"image", "c.w", "c.b"}, {"c"},
                     {{"strides", std::vector<int64_t>{1, 1}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}}}});
  g.nodes.push_back({OpType::clip, "relu6less", {"c"}, {"r"}, {{"min", 0.0}}});
  g.nodes.push_back({OpType::max_pool, "pool", {"r"}, {"p"},
                     {{"kernel", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}}});
  g.nodes.push_back({OpType::reshape, "reshape", {"p"}, {"flat"}, {{"shape", std::vector<int64_t>{0, -1}}}});
  g.nodes.push_back({OpType::linear, "fc1", {"flat", "f1.w", "f1.b"}, {"h"}, {}});
  g.nodes.push_back({OpType::relu, "relu", {"h"}, {"hr"}, {}});
  g.nodes.push_back({OpType::linear, "fc2", {"hr", "f2.w"}, {"logits"}, {}});
  g.outputs.push_back({"logits", {-1, 10}});
  return g;
}

TEST(GraphNet, ImportedStyleCnnAgreesWithRuntime) {
  const Graph g = imported_style_cnn();
  torch::manual_seed(12);
  const torch::Tensor x = torch::rand({6, 1, 12, 12});
  EXPECT_LT(relative_error(torch_logits(g, x), runtime_logits(g, x)), 1e-5);
}

// ReLU6 (clip 0..6) and average pooling, LibTorch against the runtime, and the network
// exported again by export_graph runs the same in the runtime.
TEST(GraphNet, Relu6AndAvgPoolAgreeWithRuntimeAndExportBack) {
  Graph g = imported_style_cnn();
  g.nodes[1].attrs["max"] = 6.0;
  g.nodes[2].op = OpType::avg_pool;
  torch::manual_seed(14);
  const torch::Tensor x = torch::rand({6, 1, 12, 12}) * 20;  // some pre-activations above 6
  const torch::Tensor r = runtime_logits(g, x);
  EXPECT_LT(relative_error(torch_logits(g, x), r), 1e-5);
  GraphNet gn = net_from_graph(g, fp32_layers);
  gn.net->eval();
  EXPECT_LT(relative_error(runtime_logits(export_graph(*gn.net, {}), x), r), 1e-5);
}

// BatchNorm with random statistics and a residual add (push / swap / add), from a graph
// export_graph wrote: the converter rebuilds the step list from the graph alone.
TEST(GraphNet, ResNetWithBatchNormAgreesWithRuntime) {
  torch::manual_seed(3);
  NetSpec spec;
  spec.model = "resnet20";
  spec.width = 4;
  spec.resnet_blocks = 1;
  Net src = build_net(spec);
  {
    torch::NoGradGuard no_grad;
    for (auto& bn : src->norms) {
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
      bn->running_mean.uniform_(-0.1, 0.1);
      bn->running_var.uniform_(0.5, 2.0);
    }
  }
  src->eval();
  const Graph g = export_graph(*src, {});
  const torch::Tensor x = torch::rand({4, 1, 28, 28});
  EXPECT_LT(relative_error(torch_logits(g, x), runtime_logits(g, x)), 1e-5);
}

// The quantized graph of FGQ (weights as dequantized floats, act_* attributes) in LibTorch
// with float layers computes what the runtime computes: activation quantization included.
TEST(GraphNet, ActivationQuantizationFromNodeAttributes) {
  Graph g = imported_style_cnn();
  for (Node& n : g.nodes) {
    if (n.op != OpType::conv2d && n.op != OpType::linear) continue;
    n.attrs["act_bits"] = int64_t{n.name == "fc2" ? 4 : 8};
    n.attrs["act_scale"] = n.name == "conv" ? 1.0 / 255 : 0.02;
    n.attrs["act_signed"] = int64_t{0};
  }
  torch::manual_seed(13);
  const torch::Tensor x = torch::rand({6, 1, 12, 12});
  const torch::Tensor t = torch_logits(g, x), r = runtime_logits(g, x);
  EXPECT_LT(relative_error(t, r), 1e-4);
  EXPECT_TRUE(t.argmax(1).equal(r.argmax(1)));
}

// FGQ's groups run on past a row's multiple of N (fan-in 72 at N = 32: groups of 32, 32, 8;
// fan-in 16 < N: one group): LibTorch's padded groups give fgq_quantize_weights' weights, and
// export_weight stores them exactly.
TEST(GraphNet, RaggedGroupsMatchFgq) {
  Graph g = imported_style_cnn();
  Tensor* w = g.find_tensor("c.w");
  const torch::Tensor wide = torch::randn({8, 3, 3, 8}).contiguous();
  *w = Tensor::from_floats("c.w", {8, 3, 3, 8}, {wide.data_ptr<float>(), size_t(wide.numel())});
  g.inputs[0].shape = {-1, 8, 12, 12};
  for (bool asymmetric : {false, true}) {
    FgqOptions o;
    o.group = 32;
    o.first_last_bits = 2;
    o.asymmetric = asymmetric;
    const Graph fgq = fgq_quantize_weights(g, o, nullptr);
    GraphNet gn = net_from_graph(g, [&](const Node&, size_t, size_t) {
      QuantSpec q;
      q.kind = WeightQuant::ternary;
      q.granularity = Granularity::group;
      q.group_size = 32;
      q.threshold = ThresholdRule::exact;
      q.asymmetric = asymmetric;
      return q;
    });
    const char* weights[] = {"c.w", "f1.w", "f2.w"};
    for (size_t i = 0; i < 3; ++i) {
      SCOPED_TRACE(std::string(weights[i]) + (asymmetric ? " asymmetric" : ""));
      QLayerImpl& layer = *gn.net->layers[i];
      const torch::Tensor q = to_ohwi_matrix(layer.quantized_weight().detach()).contiguous();
      const torch::Tensor want = torch::tensor(fgq.find_tensor(weights[i])->to_floats()).reshape(q.sizes());
      // The asymmetric trainer keeps one threshold for both signs (docs/TRAINING.md), FGQ's
      // asymmetric fit has two: only the symmetric supports must agree exactly.
      if (!asymmetric) {
        // Same codes; scales as float means here, double in FGQ.
        EXPECT_TRUE(torch::sign(q).equal(torch::sign(want)));
        EXPECT_TRUE(torch::allclose(q, want, 1e-6, 0)) << (q - want).abs().max().item<float>();
      }
      const ExportedWeight e = export_weight(layer);
      const torch::Tensor stored =
          torch::tensor(Tensor::from_bytes("w", e.encoding, {q.size(0), q.size(1)},
                                           encoding_traits(e.encoding).pack(e.matrix))
                            .to_floats())
              .reshape(q.sizes());
      EXPECT_TRUE(stored.equal(q));
    }
  }
}

TEST(GraphNet, UnsupportedOperatorNamesTheNode) {
  Graph g = imported_style_cnn();
  g.nodes.push_back({OpType::softmax, "probabilities", {"logits"}, {"probs"}, {}});
  g.outputs[0] = {"probs", {-1, 10}};
  try {
    net_from_graph(g, fp32_layers);
    FAIL() << "softmax accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 7 'probabilities' (softmax)"), std::string::npos) << e.what();
  }
  Graph dilated = imported_style_cnn();
  dilated.nodes[0].attrs["dilations"] = std::vector<int64_t>{2, 2};
  dilated.nodes[0].attrs["pads"] = std::vector<int64_t>{2, 2, 2, 2};
  EXPECT_THROW(
      {
        try {
          net_from_graph(dilated, fp32_layers);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("'conv' (conv2d): dilations"), std::string::npos) << e.what();
          throw;
        }
      },
      Error);
  // A zero point (imported ONNX activations) has no trainer quantizer: refused, named.
  Graph zero_point = imported_style_cnn();
  zero_point.nodes[0].attrs["act_bits"] = int64_t{8};
  zero_point.nodes[0].attrs["act_scale"] = 0.02;
  zero_point.nodes[0].attrs["act_zero_point"] = int64_t{100};
  try {
    net_from_graph(zero_point, fp32_layers);
    FAIL() << "act_zero_point accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'conv' (conv2d): act_zero_point 100 is not supported"), std::string::npos)
        << e.what();
  }
}

double runtime_accuracy(const Graph& g, const Dataset& d) {
  Session session(load_model_from_memory(serialize_model(g), "graph"));
  FloatTensor in;
  in.shape = {d.count, d.channels, d.height, d.width};
  in.data = d.images;
  const torch::Tensor logits = torch::tensor(session.run({in})[0].data).reshape({d.count, -1});
  const torch::Tensor labels = torch::tensor(std::vector<int64_t>(d.labels.begin(), d.labels.end()));
  return logits.argmax(1).eq(labels).to(torch::kDouble).mean().item<double>();
}

// A LeNet-5 trained briefly in FP32 on real digits, FGQ at N = 64 with 8-bit activations,
// then fine-tuned: the exported model's runtime accuracy is LibTorch's, both before (the
// LibTorch quantizer reproduces FGQ's weights) and after, and fine-tuning does not lose.
TEST(FgqFinetune, ImprovesPlainFgqAndRuntimeMatchesLibTorch) {
  TrainConfig c;
  c.data = "mnist";
  c.model = "lenet5";
  c.recipe = "fp32";
  c.epochs = 2;
  c.lr = 3e-3;
  c.threads = 1;
  c.train_limit = 1500;
  c.test_limit = 10;
  c.out = std::filesystem::temp_directory_path() / "stern_test_fgq_finetune_fp32.stern";
  train_model(c);
  const Graph fp32 = load_model(c.out);
  std::filesystem::remove(c.out);
  std::filesystem::remove(c.out.string() + ".ckpt");

  const DatasetSplit data = load_dataset("mnist");
  const Dataset calib = data.train.head(256), test = data.test.head(500);
  FgqOptions o;
  o.group = 64;
  o.act_bits = 8;
  Graph plain = fgq_quantize_weights(fp32, o, nullptr);
  fgq_calibrate_activations(plain, fp32, calib.images, calib.count, o, nullptr);

  FgqFinetuneConfig f;
  f.data = "mnist";
  f.epochs = 2;
  f.lr = 1e-4;
  f.threads = 1;
  f.train_limit = 600;
  f.test_limit = 500;
  FgqReport report;
  fgq_quantize_weights(fp32, o, &report);
  FgqFinetuneResult r;
  const Graph tuned = fgq_finetune(fp32, plain, o, f, &report, &r);

  // An activation exactly on a rounding tie may round differently after LibTorch's float
  // sums and the runtime's integer ones: at most one of the 500 digits may differ.
  const double plain_accuracy = runtime_accuracy(plain, test), one = 1.5 / 500;
  EXPECT_NEAR(r.accuracy_before, plain_accuracy, one);
  EXPECT_NEAR(r.accuracy_after, runtime_accuracy(tuned, test), one);
  EXPECT_GE(r.accuracy_after, plain_accuracy);
  // Digit by digit: the exported model in LibTorch (its stored weights, act_* attributes)
  // and in the runtime.
  const torch::Tensor x = torch::tensor(test.images).reshape({test.count, 1, 28, 28});
  const torch::Tensor agree = torch_logits(tuned, x).argmax(1).eq(runtime_logits(tuned, x).argmax(1));
  EXPECT_GE(agree.sum().item<int64_t>(), test.count - 1);
  EXPECT_EQ(r.steps, 10);  // 2 epochs of 600 digits in batches of 128
  ASSERT_EQ(r.log.size(), 2u);
  // Stored as FGQ stores: 8-bit edge layers, ternary groups of 64 in the body.
  ASSERT_EQ(report.layers.size(), 5u);
  EXPECT_EQ(report.layers[0].encoding, "i8");
  EXPECT_EQ(report.layers[4].encoding, "i8");
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(report.layers[i].encoding == "ternary2" || report.layers[i].encoding == "ternary_sparse");
    EXPECT_GT(report.layers[i].sparsity, 0.2);
    EXPECT_EQ(tuned.nodes.end() != std::find_if(tuned.nodes.begin(), tuned.nodes.end(),
                                                [&](const Node& n) { return n.name == report.layers[i].node; }),
              true);
  }
}

}  // namespace
}  // namespace stern::train
