// Export -> .stern bytes -> runtime Session agrees with LibTorch's eval of the same network:
// FP32 networks (issue 2, item 7) to 1e-4 of the output scale, quantized ones with the
// same predictions and logits to 1e-3 of the output scale.
#include <gtest/gtest.h>

#include "stern/format.h"
#include "stern/runtime.h"
#include "train/export.h"

namespace stern::train {
namespace {

struct Case {
  std::string name;
  NetSpec spec;
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

Outputs run_both(Net& net, const torch::Tensor& x) {
  Outputs o;
  {
    torch::NoGradGuard no_grad;
    net->eval();
    o.torch_logits = net->forward(x);
  }
  const Graph exported = export_graph(*net, {{"producer", std::string("test")}});
  // Through the container bytes, as a file would go.
  const std::vector<uint8_t> bytes = serialize_model(exported);
  Session session(load_model_from_memory(bytes, "exported"));
  FloatTensor in;
  in.shape = x.sizes().vec();
  in.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  const FloatTensor out = session.run({in})[0];
  o.runtime_logits = torch::from_blob(const_cast<float*>(out.data.data()), out.shape, torch::kFloat).clone();
  return o;
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
    cases.push_back({name, s});
  };
  QuantSpec ternary = quant(WeightQuant::ternary, 0);
  add("sparse_ternary_layer", "lenet5", ternary, 0);
  ternary.granularity = Granularity::channel;
  ternary.threshold = ThresholdRule::exact;
  add("ternary_channel_exact_act8", "vgg", ternary, 8);
  ternary.granularity = Granularity::group;
  ternary.group_size = 8;
  ternary.asymmetric = true;
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
  add("binary", "vgg", quant(WeightQuant::binary, 0), 0);
  return cases;
}

class ExportQuantized : public testing::TestWithParam<Case> {};

TEST_P(ExportQuantized, SamePredictionsAndLogitsAsLibTorch) {
  torch::manual_seed(5);
  Net net = build_net(GetParam().spec);
  randomize_norms(*net);
  const torch::Tensor x = inputs(16, 6);
  {
    // One training-mode pass calibrates the activation scales, as training would.
    torch::NoGradGuard no_grad;
    net->forward(x);
  }
  const Outputs o = run_both(net, x);
  EXPECT_TRUE(torch::equal(o.torch_logits.argmax(1), o.runtime_logits.argmax(1)));
  EXPECT_LT(relative_error(o), 1e-3);
}

INSTANTIATE_TEST_SUITE_P(Recipes, ExportQuantized, testing::ValuesIn(quantized_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ExportEncodings, EachQuantizerGetsItsPackedEncoding) {
  torch::manual_seed(7);
  NetSpec s = net_spec("lenet5");
  s.edge = quant(WeightQuant::uniform, 0);
  s.edge.edge = true;
  s.body = quant(WeightQuant::ternary, 0);
  s.body.threshold_init = 2.5;  // very sparse: the index-list form is smaller
  Net net = build_net(s);
  const Graph g = export_graph(*net, {});
  EXPECT_EQ(g.find_tensor("layer0.weight")->encoding, Encoding::i8);
  EXPECT_EQ(g.find_tensor("layer2.weight")->encoding, Encoding::ternary_sparse);
  EXPECT_EQ(g.find_tensor("layer4.weight")->encoding, Encoding::i8);
  EXPECT_EQ(g.find_tensor("layer1.weight")->shape, (std::vector<int64_t>{16, 5, 5, 6}));
  // Dequantized weights equal LibTorch's quantized weights (OIHW -> OHWI).
  torch::NoGradGuard no_grad;
  const std::vector<float> stored = g.find_tensor("layer1.weight")->to_floats();
  const torch::Tensor want = to_ohwi_matrix(net->layers[1]->quantized_weight()).flatten();
  ASSERT_EQ(static_cast<int64_t>(stored.size()), want.numel());
  for (size_t i = 0; i < stored.size(); ++i) ASSERT_EQ(stored[i], want[i].item<float>()) << i;

  s.body.threshold_init = 0.3;  // dense: 2 bits per weight wins
  Net dense = build_net(s);
  EXPECT_EQ(export_graph(*dense, {}).find_tensor("layer2.weight")->encoding, Encoding::ternary2);
}

}  // namespace
}  // namespace stern::train
