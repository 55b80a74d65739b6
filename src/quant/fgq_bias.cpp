// FGQ bias correction: ternarization shifts the mean of each output channel; measuring the
// shift on calibration data and subtracting it from the bias removes that systematic error
// without retraining (as in data-free quantization's bias correction, but empirical). With
// variance correction each channel is also rescaled to the FP32 spread (Banner et al.'s
// bias and variance correction): ternary groups of large N shrink or stretch a channel's
// response as a whole. Layers are corrected in order, each measured with every earlier
// layer already corrected.
#include <cmath>
#include <map>

#include "quant/fgq_layers.h"
#include "stern/encoding.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/shape.h"

namespace stern {
namespace {

using fgq_detail::is_weight_layer;
using fgq_detail::run_batches;

struct ChannelMoments {
  std::vector<double> mean, var;
};

// Channel means and variances of the given values of `graph` over the images.
std::map<std::string, ChannelMoments> channel_moments(const Graph& graph, const std::vector<std::string>& values,
                                                      std::span<const float> images, int64_t count,
                                                      const std::string& where) {
  const auto shapes = infer_shapes(graph, where);
  Graph probe = graph;
  probe.outputs.clear();
  for (const auto& v : values) probe.outputs.push_back({v, shapes.at(v)});
  std::vector<fgq_detail::ChannelSums> sums(values.size());
  run_batches(probe, images, count, where, [&](const FloatTensor&, const std::vector<FloatTensor>& outs) {
    for (size_t i = 0; i < values.size(); ++i) sums[i].add(outs.at(i), where);
  });
  std::map<std::string, ChannelMoments> moments;
  for (size_t i = 0; i < values.size(); ++i) {
    const double n = double(std::max<int64_t>(sums[i].per_channel, 1));
    ChannelMoments m;
    for (size_t c = 0; c < sums[i].sum.size(); ++c) {
      m.mean.push_back(sums[i].sum[c] / n);
      m.var.push_back(std::max(sums[i].squares[c] / n - m.mean.back() * m.mean.back(), 0.0));
    }
    moments[values[i]] = std::move(m);
  }
  return moments;
}

// Multiplies row r of a weight tensor, in its own encoding, by factor[r] (its scales, or
// its values for f32).
void scale_rows(Tensor& t, const std::vector<double>& factor, const std::string& where) {
  const EncodingTraits& traits = encoding_traits(t.encoding);
  const int64_t rows = t.rows(), cols = t.cols();
  if (int64_t(factor.size()) != rows) fail(where, "weight rows differ from the output channels");
  WeightMatrix m = traits.unpack(t.payload, rows, cols, where);
  if (!m.values.empty()) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) m.values[r * cols + c] *= float(factor[r]);
  } else {
    const int64_t groups = m.groups_per_row();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t g = 0; g < groups; ++g) {
        m.scale_pos[r * groups + g] *= float(factor[r]);
        m.scale_neg[r * groups + g] *= float(factor[r]);
      }
  }
  t = Tensor::from_bytes(t.name, t.encoding, t.shape, traits.pack(m));
}

}  // namespace

void fgq_correct_bias(Graph& quantized, const Graph& fp32, std::span<const float> images, int64_t count,
                      bool match_variance) {
  const std::string where = "fgq bias correction";
  std::vector<std::string> outputs;
  for (const Node& n : fp32.nodes) {
    if (is_weight_layer(n)) outputs.push_back(n.outputs.at(0));
  }
  const auto reference = channel_moments(fp32, outputs, images, count, where);
  for (Node& node : quantized.nodes) {
    if (!is_weight_layer(node)) continue;
    const std::string& out = node.outputs.at(0);
    if (!reference.count(out)) fail(where, "node '" + node.name + "' is not in the FP32 graph");
    const ChannelMoments& want = reference.at(out);
    const ChannelMoments got = channel_moments(quantized, {out}, images, count, where).at(out);
    std::vector<float> bias(want.mean.size(), 0.0f);
    if (node.inputs.size() > 2) {
      bias = quantized.find_tensor(node.inputs[2])->to_floats();
    } else {
      std::string name = node.name + ":bias";
      while (quantized.find_tensor(name)) name += "_";
      node.inputs.push_back(name);
      quantized.tensors.push_back(Tensor::from_floats(name, {static_cast<int64_t>(bias.size())}, bias));
    }
    if (bias.size() != want.mean.size()) fail(where, "node '" + node.name + "': bias length differs from its channels");
    // y' = s (y - mean_q) + mean_fp32 with s = 1, or the ratio of standard deviations.
    std::vector<double> s(bias.size(), 1.0);
    if (match_variance) {
      for (size_t c = 0; c < s.size(); ++c) {
        if (got.var[c] > 0 && want.var[c] > 0) s[c] = std::sqrt(want.var[c] / got.var[c]);
      }
      scale_rows(*quantized.find_tensor(node.inputs.at(1)), s, where + ": node '" + node.name + "'");
    }
    for (size_t c = 0; c < bias.size(); ++c) {
      bias[c] = static_cast<float>(s[c] * bias[c] + want.mean[c] - s[c] * got.mean[c]);
    }
    Tensor* t = quantized.find_tensor(node.inputs[2]);
    *t = Tensor::from_floats(t->name, t->shape, bias);
  }
  quantized.metadata["bias_correction"] = int64_t{1};
  if (match_variance) quantized.metadata["variance_correction"] = int64_t{1};
}

}  // namespace stern
