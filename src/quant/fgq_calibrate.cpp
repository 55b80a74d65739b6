// FGQ activation calibration: observe the input of every conv2d/linear layer while the FP32
// model runs on calibration images, then choose each layer's activation scale.
#include <algorithm>
#include <map>
#include <set>

#include "quant/fgq_layers.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/runtime.h"
#include "stern/shape.h"

namespace stern {
namespace {

using fgq_detail::is_weight_layer;
using fgq_detail::run_batches;

constexpr int64_t kCalibBatch = 64;

// Activation bits of a layer under the first/last policy.
int layer_act_bits(const FgqOptions& o, bool edge) {
  if (!edge || o.first_last_bits == 2) return o.act_bits;
  if (o.first_last_bits == 32 || o.act_bits == 0) return 0;
  return std::max(o.act_bits, o.first_last_bits);
}

}  // namespace

namespace fgq_detail {

void run_batches(const Graph& graph, std::span<const float> images, int64_t count, const std::string& where,
                 const std::function<void(const FloatTensor& x, const std::vector<FloatTensor>& outputs)>& fn) {
  if (graph.inputs.size() != 1) fail(where, "the model must have exactly one input");
  if (count < 1) fail(where, "no calibration images");
  const ValueInfo& input = graph.inputs[0];
  int64_t example = 1;
  for (size_t d = 1; d < input.shape.size(); ++d) {
    if (input.shape[d] < 1) fail(where, "input '" + input.name + "' has an unknown non-batch dimension");
    example *= input.shape[d];
  }
  if (static_cast<int64_t>(images.size()) != count * example) {
    fail(where, "calibration data has " + std::to_string(images.size()) + " values; expected " +
                    std::to_string(count) + " x " + std::to_string(example) + " for input " +
                    shape_to_string(input.shape));
  }
  Session session(graph);
  for (int64_t start = 0; start < count; start += kCalibBatch) {
    const int64_t b = std::min(kCalibBatch, count - start);
    FloatTensor x;
    x.shape = input.shape;
    x.shape[0] = b;
    x.data.assign(images.begin() + start * example, images.begin() + (start + b) * example);
    fn(x, session.run({x}));
  }
}

void ChannelSums::add(const FloatTensor& t, const std::string& where) {
  if (t.shape.size() < 2) fail(where, "tensor " + shape_to_string(t.shape) + " has no channel dimension");
  const int64_t n = t.shape[0], c = t.shape[1];
  const int64_t inner = c > 0 && n > 0 ? t.numel() / (n * c) : 0;
  sum.resize(static_cast<size_t>(c), 0.0);
  squares.resize(static_cast<size_t>(c), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t k = 0; k < inner; ++k) {
        const double v = t.data[(i * c + ch) * inner + k];
        sum[ch] += v;
        squares[ch] += v * v;
      }
  per_channel += n * inner;
}

void observe_layer_inputs(const Graph& fp32, std::span<const float> images, int64_t count, const std::string& where,
                          const std::function<void(const std::string& value, const FloatTensor& t)>& fn) {
  if (fp32.inputs.size() != 1) fail(where, "the model must have exactly one input");
  const std::string& input = fp32.inputs[0].name;
  // Probe: the FP32 graph with every weight layer's input exposed as an output.
  const auto shapes = infer_shapes(fp32, where);
  Graph probe = fp32;
  probe.outputs.clear();
  bool input_observed = false;
  std::set<std::string> seen;
  for (const Node& n : fp32.nodes) {
    if (!is_weight_layer(n) || !seen.insert(n.inputs.at(0)).second) continue;
    const std::string& v = n.inputs[0];
    if (v == input) input_observed = true;
    else probe.outputs.push_back({v, shapes.at(v)});
  }
  if (seen.empty()) return;
  std::vector<std::string> probed;
  for (const auto& out : probe.outputs) probed.push_back(out.name);
  if (probe.outputs.empty()) probe.outputs = fp32.outputs;  // only the graph input is observed
  run_batches(probe, images, count, where, [&](const FloatTensor& x, const std::vector<FloatTensor>& outs) {
    if (input_observed) fn(input, x);
    for (size_t i = 0; i < probed.size(); ++i) fn(probed[i], outs.at(i));
  });
}

}  // namespace fgq_detail

void fgq_calibrate_activations(Graph& quantized, const Graph& fp32, std::span<const float> images,
                               int64_t count, const FgqOptions& o, FgqReport* report) {
  const std::string where = "fgq calibration";
  std::vector<const Node*> layers;
  std::map<std::string, ActivationStats> stats;
  for (const Node& n : fp32.nodes) {
    if (!is_weight_layer(n)) continue;
    layers.push_back(&n);
    stats.try_emplace(n.inputs.at(0));
  }
  if (layers.empty()) return;
  fgq_detail::observe_layer_inputs(fp32, images, count, where,
                                   [&](const std::string& v, const FloatTensor& t) { stats.at(v).observe(t.data); });

  for (size_t li = 0; li < layers.size(); ++li) {
    const Node& src = *layers[li];
    const int bits = layer_act_bits(o, li == 0 || li + 1 == layers.size());
    auto it = std::find_if(quantized.nodes.begin(), quantized.nodes.end(),
                           [&](const Node& n) { return n.name == src.name; });
    if (it == quantized.nodes.end()) fail(where, "node '" + src.name + "' is missing from the quantized graph");
    ActivationScale s;
    if (bits > 0) {
      s = calibrate_scale(stats.at(src.inputs[0]), bits, o.calib_method, o.calib_percentile);
      it->attrs["act_bits"] = int64_t{bits};
      it->attrs["act_scale"] = s.scale;
      it->attrs["act_signed"] = int64_t{s.is_signed ? 1 : 0};
      it->attrs.erase("act_zero_point");  // an imported model's; the calibrated codes have none
    }
    if (report) {
      for (auto& lr : report->layers) {
        if (lr.node != src.name) continue;
        lr.act_bits = bits;
        lr.act_scale = bits > 0 ? s.scale : 0.0;
        lr.act_signed = bits > 0 && s.is_signed;
      }
    }
  }
  quantized.metadata["calibration"] = std::string(calib_method_name(o.calib_method));
}

}  // namespace stern
