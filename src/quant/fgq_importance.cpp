// FGQ input importance: the mean square of each input channel (conv2d) or feature (linear)
// of every weight layer on calibration images, spread over the weight columns it multiplies.
#include <algorithm>
#include <map>

#include "quant/fgq_layers.h"
#include "stern/error.h"
#include "stern/fgq.h"

namespace stern {

InputImportanceMap fgq_input_importance(const Graph& fp32, std::span<const float> images, int64_t count) {
  const std::string where = "fgq input importance";
  std::map<std::string, fgq_detail::ChannelSums> energy;
  fgq_detail::observe_layer_inputs(fp32, images, count, where,
                                   [&](const std::string& v, const FloatTensor& t) { energy[v].add(t, where); });
  InputImportanceMap out;
  for (const Node& n : fp32.nodes) {
    if (!fgq_detail::is_weight_layer(n)) continue;
    const Tensor* w = fp32.find_tensor(n.inputs.at(1));
    if (w == nullptr) fail(where + ": node '" + n.name + "'", "weight '" + n.inputs[1] + "' is not a constant tensor");
    const fgq_detail::ChannelSums& e = energy.at(n.inputs[0]);
    const int64_t channels = static_cast<int64_t>(e.squares.size()), cols = w->cols();
    InputImportance imp;
    imp.conv_groups = n.op == OpType::conv2d ? attr_int(n.attrs, "groups", 1) : 1;
    // OHWI: column c of a conv row multiplies channel c % (channels per group) of its group.
    const int64_t group_channels = n.op == OpType::conv2d ? channels / imp.conv_groups : cols;
    if (group_channels * imp.conv_groups != channels || cols % group_channels != 0) {
      fail(where + ": node '" + n.name + "'", "input has " + std::to_string(channels) + " channels; weight has " +
                                                   std::to_string(cols) + " columns");
    }
    imp.values.resize(static_cast<size_t>(imp.conv_groups * cols));
    for (int64_t g = 0; g < imp.conv_groups; ++g) {
      for (int64_t c = 0; c < cols; ++c) {
        imp.values[g * cols + c] =
            static_cast<float>(e.squares[g * group_channels + c % group_channels] / double(std::max<int64_t>(e.per_channel, 1)));
      }
    }
    out.emplace(n.name, std::move(imp));
  }
  return out;
}

}  // namespace stern
