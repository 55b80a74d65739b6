// Trainable networks whose conv / linear layers take a pluggable weight quantizer and an
// optional input (activation) quantizer. A network is a list of steps run by a tiny stack
// machine; forward() and the .stern exporter walk the same list, so what is exported is
// what was trained.
#pragma once
#include <string>
#include <vector>

#include <torch/torch.h>

#include "train/quantizers.h"

namespace stern::train {

enum class WeightQuant { none, ternary, binary, signed_binary, uniform };
enum class ThresholdRule { learnable, twn, exact };

struct QuantSpec {
  WeightQuant kind = WeightQuant::none;
  int bits = 8;  // uniform only
  Granularity granularity = Granularity::layer;
  int64_t group_size = 8;
  ThresholdRule threshold = ThresholdRule::learnable;
  bool asymmetric = false;
  double threshold_init = 0.7;
  double tau = 0.1;  // in units of the group's mean |w|
  double clip = 1.0;
  bool sign_by_mean = false;
  double sb_delta = 0.05;
  bool sb_alpha_bn = false;
  int act_bits = 0;  // input quantization; 0 = float
  bool act_signed = false;
  bool edge = false;  // first / last layer or shortcut: kept at higher precision
};

// Conv2d (square kernel, stride, padding) or Linear, with quantized weight and input.
class QLayerImpl : public torch::nn::Module {
 public:
  QLayerImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
             bool conv, bool bias, const QuantSpec& spec);

  torch::Tensor forward(torch::Tensor x);
  // The weight the forward pass uses (differentiable towards the shadow weight).
  torch::Tensor quantized_weight();
  torch::Tensor quantize_input(const torch::Tensor& x);
  torch::Tensor activation_scale() { return act_log_scale.exp(); }
  // Current threshold [groups, 1] of a ternary layer (what |w| is compared with).
  torch::Tensor ternary_delta(const torch::Tensor& groups);
  // Freezes the current zero pattern (ternary) or `keep` (any kind): later forwards keep
  // exactly these weights non-zero.
  void freeze_mask(const torch::Tensor& keep);
  bool mask_frozen() const { return mask_on_.item<bool>(); }
  void set_spec(const QuantSpec& spec) { spec_ = spec; }
  const QuantSpec& spec() const { return spec_; }

  bool conv;
  int64_t stride, padding;
  torch::Tensor weight, bias;
  torch::Tensor threshold_t;  // learnable ternary threshold factor, [1]
  torch::Tensor alpha;        // signed-binary learnable scale, [out, 1]
  torch::Tensor act_log_scale;  // [1], LSQ in the log domain (Adam steps are relative)
  torch::Tensor act_ready, mask, mask_on_;
  torch::Tensor filter_sign;  // signed-binary signs by filter mean, fixed at the first forward
  // Threshold set from outside (the sparsity schedule), in units of |w|: a ternary layer's
  // Delta, or the magnitude a k-bit layer prunes below; 0 = off (the spec's rule). A buffer
  // so checkpoints resume with it.
  torch::Tensor scheduled_delta;

 private:
  bool ragged_groups() const;
  torch::Tensor ragged_ternary_weight();

  QuantSpec spec_;
};
TORCH_MODULE(QLayer);

// One step of the network program. `index` selects the layer or BatchNorm.
struct Step {
  // avg_pool and relu6 (clip to [0, 6]) come from imported graphs (graph_net.h).
  enum Kind { layer, batch_norm, relu, max_pool, flatten, global_avg_pool, push, swap, add,
              avg_pool, relu6 };
  Kind kind;
  int index = 0;   // layer / batch_norm
  int kernel = 2;  // max_pool, avg_pool (stride = kernel)
};

class NetImpl : public torch::nn::Module {
 public:
  NetImpl();
  torch::Tensor forward(torch::Tensor x);

  // A layer followed by a BatchNorm has no bias (the norm's shift replaces it) and may
  // leave its signed-binary scale to the norm.
  QLayer add_layer(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                   bool conv, const QuantSpec& spec, bool norm_follows);
  void add_batch_norm(int64_t channels);
  void add(Step::Kind kind, int kernel = 2) { steps.push_back({kind, 0, kernel}); }

  std::string name;
  std::vector<Step> steps;
  std::vector<QLayer> layers;
  std::vector<torch::nn::BatchNorm2d> norms;  // also after linear layers, on [N, C, 1, 1]
  std::vector<int64_t> input_shape;  // C, H, W
  torch::Tensor msqe_a;              // learnable-reg: log of the MSQE coefficient
};
TORCH_MODULE(Net);

// Layer specs of a network: the first and last weight layers (and 1x1 shortcuts) get
// `edge`, all others `body`.
struct NetSpec {
  std::string model = "lenet5";  // lenet5 | vgg | resnet20
  int width = 0;                 // 0: model default
  int resnet_blocks = 3;         // blocks per stage: 3 = ResNet-20, 1 = ResNet-8
  QuantSpec body, edge;
  int64_t channels = 1, height = 28, width_px = 28, classes = 10;
};
Net build_net(const NetSpec& spec);

}  // namespace stern::train
