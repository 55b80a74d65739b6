// Export -> .stern bytes -> runtime Session agrees with LibTorch's eval of the same network:
// FP32 networks (issue 2, item 7) to 1e-4 of the output scale, quantized ones with the
// same predictions and logits to 1e-3 of the output scale.
#include <gtest/gtest.h>

#include "stern/format.h"
#include "stern/runtime.h"
#include "train/export.h"
#include "train/integer_eval.h"

namespace stern::train {
namespace {

struct Case {
  std::string name;
  NetSpec spec;
  bool integer = false;  // every layer runs on the runtime's integer kernels
};

// BatchNorm statistics and affine parameters away from identity, so folding is exercised.
void randomize_norms(NetImpl& net) {
  torch::NoGradGuard no_grad;
  for (auto& bn : net.norms) {
    bn->weight.uniform_(0.5, 1.5);
    bn->bias.uniform_(-0.2, 0.2);
    bn->running_mean.uniform_(-0.1, 0.1);
    bn->running_var.uniform_(0.5, 2.0);
  }
}

NetSpec net_spec(const std::string& model, int width = 0, int blocks = 3) {
  NetSpec s;
  s.model = model;
  s.width = width;
  s.resnet_blocks = blocks;
  return s;
}

struct Outputs {
  torch::Tensor torch_logits, runtime_logits;
};

Outputs run_both(Net& net, const torch::Tensor& x, Session& session) {
  Outputs o;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    o.torch_logits = net->forward(x);
  }
  FloatTensor in;
  in.shape = x.sizes().vec();
  in.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const FloatTensor out = session.run({in})[0];
  o.runtime_logits = torch::from_blob(const_cast<float*>(out.data.data()), out.shape, torch::kFloat).clone();
  return o;
}

Outputs run_both(Net& net, const torch::Tensor& x) {
  const Graph exported = export_graph(*net, {{"producer", std::string("test")}});
  // Through the container bytes, as a file would go.
  const std::vector<uint8_t> bytes = serialize_model(exported);
  Session session(load_model_from_memory(bytes, "exported"));
  return run_both(net, x, session);
}

torch::Tensor inputs(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::rand({n, 1, 28, 28});
}

double relative_error(const Outputs& o) {
  const double scale = o.torch_logits.abs().max().item<double>();
  return (o.torch_logits - o.runtime_logits).abs().max().item<double>() / scale;
}

TEST(ExportFp32, LeNet5AgreesWithLibTorch) {
  torch::manual_seed(1);
  Net net = build_net(net_spec("lenet5"));
  const Outputs o = run_both(net, inputs(8, 2));
  ASSERT_EQ(o.runtime_logits.sizes(), o.torch_logits.sizes());
  EXPECT_LT(relative_error(o), 1e-4);
}

TEST(ExportFp32, ResNetWithBatchNormAndResidualAddAgreesWithLibTorch) {
  torch::manual_seed(3);
  Net net = build_net(net_spec("resnet20", 8, 1));
  randomize_norms(*net);
  const Outputs o = run_both(net, inputs(4, 4));
  ASSERT_EQ(o.runtime_logits.sizes(), o.torch_logits.sizes());
  EXPECT_LT(relative_error(o), 1e-4);
}

QuantSpec quant(WeightQuant kind, int act_bits) {
  QuantSpec q;
  q.kind = kind;
  q.act_bits = act_bits;
  return q;
}

std::vector<Case> quantized_cases() {
  std::vector<Case> cases;
  QuantSpec edge = quant(WeightQuant::uniform, 0);
  edge.edge = true;
  auto add = [&](const std::string& name, const std::string& model, QuantSpec body, int act_bits) {
    NetSpec s = net_spec(model, 8, 1);
    s.body = body;
    s.edge = edge;
    s.body.act_bits = s.edge.act_bits = act_bits;
    const bool integer = act_bits > 0 && !(body.kind == WeightQuant::ternary &&
                                           body.granularity == Granularity::group);
    cases.push_back({name, s, integer});
  };
  QuantSpec ternary = quant(WeightQuant::ternary, 0);
  add("sparse_ternary_layer", "lenet5", ternary, 0);
  ternary.threshold = ThresholdRule::twn;
  add("ternary_layer_act4", "lenet5", ternary, 4);
  ternary.granularity = Granularity::channel;
  ternary.threshold = ThresholdRule::exact;
  add("ternary_channel_exact_act8", "vgg", ternary, 8);
  ternary.asymmetric = true;
  add("ternary_channel_asymmetric_act8", "resnet20", ternary, 8);
  ternary.granularity = Granularity::group;
  ternary.group_size = 8;
  ternary.threshold = ThresholdRule::twn;
  add("ternary_group_asymmetric_act4", "resnet20", ternary, 4);
  QuantSpec uniform4 = quant(WeightQuant::uniform, 0);
  uniform4.bits = 4;
  add("learnable_reg_4bit_act8", "lenet5", uniform4, 8);
  QuantSpec sb = quant(WeightQuant::signed_binary, 0);
  add("signed_binary_index", "lenet5", sb, 0);
  sb.sign_by_mean = true;
  sb.sb_alpha_bn = true;
  add("signed_binary_mean_bn", "vgg", sb, 0);
  add("signed_binary_mean_bn_act8", "vgg", sb, 8);
  add("binary", "vgg", quant(WeightQuant::binary, 0), 0);
  add("binary_act8", "vgg", quant(WeightQuant::binary, 0), 8);
  return cases;
}

class ExportQuantized : public testing::TestWithParam<Case> {};

// The case's network with random BatchNorm statistics, its activation scales calibrated on
// x by one training-mode pass, as training would.
Net calibrated_net(const Case& c, const torch::Tensor& x) {
  Net net = build_net(c.spec);
  randomize_norms(*net);
  torch::NoGradGuard no_grad;
  net->forward(x);
  return net;
}

TEST_P(ExportQuantized, SamePredictionsAndLogitsAsLibTorch) {
  torch::manual_seed(5);
  const torch::Tensor x = inputs(16, 6);
  Net net = calibrated_net(GetParam(), x);
  const Outputs o = run_both(net, x);
  EXPECT_TRUE(torch::equal(o.torch_logits.argmax(1), o.runtime_logits.argmax(1)));
  EXPECT_LT(relative_error(o), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Recipes, ExportQuantized, testing::ValuesIn(quantized_cases()),
                         [](const auto& info) { return info.param.name; });

class ExportIntegerEval : public testing::TestWithParam<Case> {};

// Every intermediate value, not only the logits: a value one ulp off rarely moves a logit
// (the next quantizer absorbs it), so the network is cut after each step and both sides
// compared there.
TEST_P(ExportIntegerEval, EveryValueEqualsTheRuntimeBitForBit) {
  torch::manual_seed(11);
  const torch::Tensor x = inputs(64, 12);
  Net net = calibrated_net(GetParam(), x);
  for (auto& layer : net->layers) ASSERT_TRUE(has_integer_eval(*layer));
  const std::vector<Step> steps = net->steps;
  for (size_t k = 1; k <= steps.size(); ++k) {
    const Step::Kind last = steps[k - 1].kind;
    if (last == Step::push || last == Step::swap) continue;
    net->steps.assign(steps.begin(), steps.begin() + static_cast<std::ptrdiff_t>(k));
    Graph g = export_graph(*net, {});
    {
      torch::NoGradGuard no_grad;
      net->eval();
      std::vector<int64_t> shape = net->forward(x.slice(0, 0, 1)).sizes().vec();
      shape[0] = -1;
      g.outputs[0].shape = shape;
    }
    Session session(std::move(g));
    const Outputs o = run_both(net, x, session);
    EXPECT_TRUE(torch::equal(o.torch_logits, o.runtime_logits))
        << "after step " << k << " of " << steps.size() << ": " << relative_error(o);
  }
}

std::vector<Case> integer_cases() {
  std::vector<Case> cases = quantized_cases();
  std::erase_if(cases, [](const Case& c) { return !c.integer; });
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Recipes, ExportIntegerEval, testing::ValuesIn(integer_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ExportIntegerEval, FloatEvalForLayersOffTheIntegerKernels) {
  QuantSpec s = quant(WeightQuant::ternary, 8);
  s.granularity = Granularity::group;  // FGQ groups: several scales per row
  s.group_size = 8;
  const auto has = [](const QuantSpec& q) {
    QLayerImpl layer(16, 4, 3, 1, 1, true, false, q);
    return has_integer_eval(layer);
  };
  EXPECT_FALSE(has(s));
  s.granularity = Granularity::channel;
  EXPECT_TRUE(has(s));
  EXPECT_TRUE(has(quant(WeightQuant::binary, 8)));
  EXPECT_TRUE(has(quant(WeightQuant::signed_binary, 8)));
  EXPECT_FALSE(has(quant(WeightQuant::ternary, 0)));   // float activations
  EXPECT_FALSE(has(quant(WeightQuant::none, 8)));
}

// LeNet-5 with int8 edge layers and `body` inside.
NetSpec lenet5_with(QuantSpec body) {
  NetSpec s = net_spec("lenet5");
  s.edge = quant(WeightQuant::uniform, 0);
  s.edge.edge = true;
  s.body = body;
  return s;
}

// The stored tensor, dequantized, equals LibTorch's quantized weights of net->layers[layer]
// (OIHW -> OHWI).
void expect_stored_weights_are_libtorch(const Graph& g, Net& net, int layer) {
  torch::NoGradGuard no_grad;
  const std::string name = "layer" + std::to_string(layer) + ".weight";
  const std::vector<float> stored = g.find_tensor(name)->to_floats();
  const torch::Tensor want = to_ohwi_matrix(net->layers[layer]->quantized_weight()).flatten();
  ASSERT_EQ(static_cast<int64_t>(stored.size()), want.numel()) << name;
  for (size_t i = 0; i < stored.size(); ++i) ASSERT_EQ(stored[i], want[i].item<float>()) << name << " " << i;
}

TEST(ExportEncodings, EachQuantizerGetsItsPackedEncoding) {
  torch::manual_seed(7);
  NetSpec s = lenet5_with(quant(WeightQuant::ternary, 0));
  s.body.threshold_init = 2.5;  // very sparse: the index-list form is smaller
  Net net = build_net(s);
  const Graph g = export_graph(*net, {});
  EXPECT_EQ(g.find_tensor("layer0.weight")->encoding, Encoding::i8);
  EXPECT_EQ(g.find_tensor("layer2.weight")->encoding, Encoding::ternary_sparse);
  EXPECT_EQ(g.find_tensor("layer4.weight")->encoding, Encoding::i8);
  EXPECT_EQ(g.find_tensor("layer1.weight")->shape, (std::vector<int64_t>{16, 5, 5, 6}));
  expect_stored_weights_are_libtorch(g, net, 1);

  s.body.threshold_init = 0.3;  // dense: 2 bits per weight wins
  Net dense = build_net(s);
  EXPECT_EQ(export_graph(*dense, {}).find_tensor("layer2.weight")->encoding, Encoding::ternary2);
}

// Signed-binary's sparse form is ternary_sparse (one list per row), stored where it is the
// smaller payload; either way the stored weights are LibTorch's quantized weights.
TEST(ExportEncodings, SignedBinaryTakesItsSparseFormWhereSmaller) {
  torch::manual_seed(8);
  NetSpec s = lenet5_with(quant(WeightQuant::signed_binary, 0));
  for (const auto& [delta, want] : {std::pair{0.97, Encoding::ternary_sparse}, std::pair{0.3, Encoding::signed_binary}}) {
    s.body.sb_delta = delta;
    Net net = build_net(s);
    const Graph g = export_graph(*net, {});
    const Tensor& t = *g.find_tensor("layer2.weight");
    EXPECT_EQ(t.encoding, want) << "sb_delta " << delta;
    const WeightMatrix m = encoding_traits(t.encoding).unpack(t.payload, t.rows(), t.cols(), "layer2.weight");
    const Encoding other = want == Encoding::signed_binary ? Encoding::ternary_sparse : Encoding::signed_binary;
    EXPECT_LT(encoding_traits(want).pack(m).size(), encoding_traits(other).pack(m).size()) << "sb_delta " << delta;
    expect_stored_weights_are_libtorch(g, net, 2);
  }
}

}  // namespace
}  // namespace stern::train
