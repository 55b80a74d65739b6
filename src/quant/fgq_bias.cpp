// FGQ bias correction: ternarization shifts the mean of each output channel; measuring the
// shift on calibration data and subtracting it from the bias removes that systematic error
// without retraining (as in data-free quantization's bias correction, but empirical). Layers
// are corrected in order, each measured with every earlier layer already corrected.
#include <map>

#include "quant/fgq_layers.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/shape.h"

namespace stern {
namespace {

using fgq_detail::is_weight_layer;
using fgq_detail::run_batches;

// Per-channel sums of an [N, C, ...] tensor (dimension 1 is the channel).
void add_channel_sums(const FloatTensor& t, std::vector<double>& sums, int64_t& per_channel) {
  const int64_t n = t.shape.at(0), c = t.shape.at(1);
  const int64_t inner = c > 0 && n > 0 ? t.numel() / (n * c) : 0;
  sums.resize(static_cast<size_t>(c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) sums[ch] += t.data[(i * c + ch) * inner + k];
  per_channel += n * inner;
}

// Channel means of the given values of `graph` over the images.
std::map<std::string, std::vector<double>> channel_means(const Graph& graph, const std::vector<std::string>& values,
                                                         std::span<const float> images, int64_t count,
                                                         const std::string& where) {
  const auto shapes = infer_shapes(graph, where);
  Graph probe = graph;
  probe.outputs.clear();
  for (const auto& v : values) probe.outputs.push_back({v, shapes.at(v)});
  std::vector<std::vector<double>> sums(values.size());
  std::vector<int64_t> counts(values.size(), 0);
  run_batches(probe, images, count, where, [&](const FloatTensor&, const std::vector<FloatTensor>& outs) {
    for (size_t i = 0; i < values.size(); ++i) add_channel_sums(outs.at(i), sums[i], counts[i]);
  });
  std::map<std::string, std::vector<double>> means;
  for (size_t i = 0; i < values.size(); ++i) {
    for (double& s : sums[i]) s /= double(std::max<int64_t>(counts[i], 1));
    means[values[i]] = std::move(sums[i]);
  }
  return means;
}

}  // namespace

void fgq_correct_bias(Graph& quantized, const Graph& fp32, std::span<const float> images, int64_t count) {
  const std::string where = "fgq bias correction";
  std::vector<std::string> outputs;
  for (const Node& n : fp32.nodes) {
    if (is_weight_layer(n)) outputs.push_back(n.outputs.at(0));
  }
  const auto reference = channel_means(fp32, outputs, images, count, where);
  for (Node& node : quantized.nodes) {
    if (!is_weight_layer(node)) continue;
    const std::string& out = node.outputs.at(0);
    if (!reference.count(out)) fail(where, "node '" + node.name + "' is not in the FP32 graph");
    const std::vector<double>& want = reference.at(out);
    const std::vector<double> got = channel_means(quantized, {out}, images, count, where).at(out);
    std::vector<float> bias(want.size(), 0.0f);
    if (node.inputs.size() > 2) {
      bias = quantized.find_tensor(node.inputs[2])->to_floats();
    } else {
      std::string name = node.name + ":bias";
      while (quantized.find_tensor(name)) name += "_";
      node.inputs.push_back(name);
      quantized.tensors.push_back(Tensor::from_floats(name, {static_cast<int64_t>(bias.size())}, bias));
    }
    if (bias.size() != want.size()) fail(where, "node '" + node.name + "': bias length differs from its channels");
    for (size_t c = 0; c < bias.size(); ++c) bias[c] += static_cast<float>(want[c] - got[c]);
    Tensor* t = quantized.find_tensor(node.inputs[2]);
    *t = Tensor::from_floats(t->name, t->shape, bias);
  }
  quantized.metadata["bias_correction"] = int64_t{1};
}

}  // namespace stern
