// FGQ weight quantization: per-group exact ternary fits, first/last-layer policy, encoding
// choice (ternary2 or ternary_sparse, whichever stores smaller) and the per-layer report.
#include <algorithm>
#include <cmath>
#include <set>

#include "stern/encoding.h"
#include "quant/fgq_layers.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/shape.h"
#include "stern/ternary_fit.h"

namespace stern {
namespace {

using fgq_detail::is_weight_layer;

// Ternary codes for one group from a fit's thresholds; the scales are then the L2-optimal
// ones for exactly that pattern (the importance-weighted mean magnitude of each sign), which
// also settles ties at the threshold consistently. `importance` is empty or one e_i per weight.
void ternarize_group(std::span<const float> w, std::span<const float> importance, bool asymmetric,
                     int8_t* codes, float* alpha_pos, float* alpha_neg) {
  const TernaryFit fit =
      asymmetric ? ternary_fit_exact_asymmetric(w, importance) : ternary_fit_exact(w, importance);
  const std::vector<float> weight = importance_or_ones(w, importance);
  double sum_pos = 0, sum_neg = 0, e_pos = 0, e_neg = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double e = weight[i];
    codes[i] = w[i] > fit.delta ? 1 : (w[i] < -fit.delta_neg ? -1 : 0);
    if (codes[i] > 0) sum_pos += e * w[i], e_pos += e;
    if (codes[i] < 0) sum_neg -= e * w[i], e_neg += e;
  }
  if (asymmetric) {
    *alpha_pos = e_pos > 0 ? float(sum_pos / e_pos) : 0.0f;
    *alpha_neg = e_neg > 0 ? float(sum_neg / e_neg) : 0.0f;
  } else {
    *alpha_pos = *alpha_neg = e_pos + e_neg > 0 ? float((sum_pos + sum_neg) / (e_pos + e_neg)) : 0.0f;
  }
}

// `importance`: null, or the layer's column importance (fgq.h).
WeightMatrix ternarize(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t group,
                       bool asymmetric, const InputImportance* importance) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = group;
  m.asymmetric = asymmetric;
  m.codes.resize(w.size());
  const int64_t groups = m.groups_per_row();
  m.scale_pos.resize(rows * groups);
  m.scale_neg.resize(rows * groups);
  const int64_t rows_per_conv_group = importance ? rows / importance->conv_groups : rows;
  for (int64_t r = 0; r < rows; ++r) {
    const float* e = importance ? importance->values.data() + (r / rows_per_conv_group) * cols : nullptr;
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t c0 = g * group, n = std::min(group, cols - c0);
      ternarize_group({w.data() + r * cols + c0, static_cast<size_t>(n)},
                      e ? std::span<const float>(e + c0, static_cast<size_t>(n)) : std::span<const float>(),
                      asymmetric, m.codes.data() + r * cols + c0, &m.scale_pos[r * groups + g],
                      &m.scale_neg[r * groups + g]);
    }
  }
  return m;
}

// Symmetric per-output-channel integer codes in [-(2^(bits-1) - 1), 2^(bits-1) - 1], stored
// as i8.
WeightMatrix integer_per_channel(const std::vector<float>& w, int64_t rows, int64_t cols, int bits) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = cols;
  m.codes.resize(w.size());
  m.scale_pos.resize(rows);
  const float qmax = float((1 << (bits - 1)) - 1);
  for (int64_t r = 0; r < rows; ++r) {
    float amax = 0;
    for (int64_t c = 0; c < cols; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
    const float scale = amax > 0 ? amax / qmax : 1.0f;
    m.scale_pos[r] = scale;
    for (int64_t c = 0; c < cols; ++c) {
      m.codes[r * cols + c] = static_cast<int8_t>(std::clamp(std::nearbyint(w[r * cols + c] / scale), -qmax, qmax));
    }
  }
  m.scale_neg = m.scale_pos;
  return m;
}

}  // namespace

Graph fgq_quantize_weights(const Graph& fp32, const FgqOptions& o, FgqReport* report,
                           const InputImportanceMap* importance) {
  if (o.group < 0) fail("fgq", "group " + std::to_string(o.group) + " is negative; expected N >= 1 or 0 (per channel)");
  if (o.first_last_bits != 2 && o.first_last_bits != 4 && o.first_last_bits != 8 && o.first_last_bits != 32) {
    fail("fgq", "--first-last-bits " + std::to_string(o.first_last_bits) + "; expected 2, 4, 8 or 32");
  }
  const auto shapes = infer_shapes(fp32, "fgq");
  std::vector<size_t> layers;
  for (size_t i = 0; i < fp32.nodes.size(); ++i) {
    if (is_weight_layer(fp32.nodes[i])) layers.push_back(i);
  }
  Graph g = fp32;
  FgqReport rep;
  std::set<std::string> done;
  for (size_t li = 0; li < layers.size(); ++li) {
    const Node& node = g.nodes[layers[li]];
    const std::string where = "fgq: node '" + node.name + "'";
    Tensor* t = g.find_tensor(node.inputs.at(1));
    if (t == nullptr) fail(where, "weight '" + node.inputs[1] + "' is not a constant tensor");
    const bool edge = li == 0 || li + 1 == layers.size();
    const int bits = edge ? o.first_last_bits : 2;

    FgqLayerReport lr;
    lr.node = node.name;
    lr.op = op_name(node.op);
    lr.rows = t->rows();
    lr.cols = t->cols();
    lr.weight_bits = bits;
    // MACs per example: every output element costs one fan-in dot product.
    const Shape& out = shapes.at(node.outputs.at(0));
    int64_t positions = 1;
    for (size_t d = 2; d < out.size(); ++d) positions *= out[d];
    lr.macs = lr.rows * lr.cols * positions;

    const std::vector<float> w = t->to_floats();
    if (!done.insert(t->name).second) fail(where, "weight '" + t->name + "' is shared with another layer");
    std::vector<float> q;
    if (bits == 32) {
      lr.encoding = "f32";
      lr.group = lr.cols;
      q = w;
      *t = Tensor::from_floats(t->name, t->shape, w);
    } else {
      WeightMatrix m;
      Encoding enc = Encoding::i8;
      if (bits == 2) {
        lr.group = o.group == 0 ? lr.cols : std::min(o.group, lr.cols);
        const InputImportance* e = nullptr;
        if (importance) {
          const auto it = importance->find(node.name);
          if (it == importance->end()) fail(where, "no input importance for this layer");
          e = &it->second;
          if (lr.rows % e->conv_groups != 0 || int64_t(e->values.size()) != e->conv_groups * lr.cols) {
            fail(where, "input importance has " + std::to_string(e->values.size()) + " values; expected " +
                            std::to_string(e->conv_groups) + " x " + std::to_string(lr.cols));
          }
        }
        m = ternarize(w, lr.rows, lr.cols, lr.group, o.asymmetric, e);
        lr.mults_removed = 1.0 - 1.0 / double(lr.group);
        auto dense = encoding_traits(Encoding::ternary2).pack(m);
        auto sparse = encoding_traits(Encoding::ternary_sparse).pack(m);
        enc = sparse.size() < dense.size() ? Encoding::ternary_sparse : Encoding::ternary2;
        *t = Tensor::from_bytes(t->name, enc, t->shape, enc == Encoding::ternary2 ? std::move(dense) : std::move(sparse));
      } else {
        lr.group = lr.cols;
        m = integer_per_channel(w, lr.rows, lr.cols, bits);
        *t = Tensor::from_bytes(t->name, enc, t->shape, encoding_traits(enc).pack(m));
      }
      lr.encoding = encoding_traits(enc).name;
      q = t->to_floats();
    }
    double err = 0, norm = 0;
    int64_t zeros = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      err += double(w[i] - q[i]) * (w[i] - q[i]);
      norm += double(w[i]) * w[i];
      zeros += q[i] == 0.0f;
    }
    lr.relative_l2_error = norm > 0 ? std::sqrt(err / norm) : 0.0;
    lr.sparsity = w.empty() ? 0.0 : double(zeros) / double(w.size());
    lr.weight_bytes = static_cast<int64_t>(t->payload.size());
    rep.total_macs += lr.macs;
    rep.mults_removed += lr.mults_removed * double(lr.macs);
    rep.fp32_weight_bytes += static_cast<int64_t>(w.size() * sizeof(float));
    rep.weight_bytes += lr.weight_bytes;
    rep.layers.push_back(std::move(lr));
  }
  if (rep.total_macs > 0) rep.mults_removed /= double(rep.total_macs);
  g.metadata["quantization"] = std::string("fgq");
  g.metadata["fgq_group"] = o.group;
  if (report) *report = std::move(rep);
  return g;
}

}  // namespace stern
