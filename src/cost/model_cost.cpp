// Per-layer operation counts, memory and energy (docs/COST.md is the specification).
#include <cmath>

#include "stern/archive.h"
#include "stern/cost.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/shape.h"

namespace stern {
namespace {

bool is_additive(Encoding e) {
  return e == Encoding::ternary2 || e == Encoding::ternary_sparse || e == Encoding::signed_binary ||
         e == Encoding::binary;
}

int weight_bits(Encoding e) { return e == Encoding::i8 ? 8 : 2; }

// Integer adders of up to 8 bits cost Horowitz's 8-bit add; wider ones his 32-bit add (an
// accumulator is at most 32 bits in every stern kernel).
double add_pj(const EnergyTable& t, int bits) { return bits <= 8 ? t.int8_add_pj : t.int32_add_pj; }

void accumulate(LayerCost& total, const LayerCost& l) {
  total.weights += l.weights;
  total.nonzero_weights += l.nonzero_weights;
  total.scales += l.scales;
  total.fp32_weight_bits += l.fp32_weight_bits;
  total.runtime_weight_bits += l.runtime_weight_bits;
  total.stored_weight_bits += l.stored_weight_bits;
  total.macs += l.macs;
  total.multiplications += l.multiplications;
  total.multiplications_removed += l.multiplications_removed;
  total.additions += l.additions;
  total.compute_energy_pj += l.compute_energy_pj;
  total.weight_fetch_energy_pj += l.weight_fetch_energy_pj;
  total.fpga_adders += l.fpga_adders;
  total.fpga_luts += l.fpga_luts;
}

}  // namespace

ModelCost model_cost(const Graph& graph, const EnergyTable& energy, int fpga_activation_bits) {
  const auto shapes = infer_shapes(graph, "cost");
  ArchiveStats archive;
  compress_model(graph, &archive);
  // Scales travel in the shared float stream; each layer is charged its proportional share.
  int64_t float_stream_floats = 0;
  for (const auto& t : archive.tensors)
    float_stream_floats += t.scale_floats + (t.method == "zstd_floats" ? t.payload_bytes / 4 : 0);
  const double bits_per_stored_float =
      float_stream_floats > 0 ? 8.0 * double(archive.float_stream_bytes) / double(float_stream_floats) : 32.0;

  ModelCost cost;
  cost.energy = energy;
  cost.total.node = "total";
  for (const Node& n : graph.nodes) {
    if (n.op != OpType::conv2d && n.op != OpType::linear) continue;
    const std::string where = "cost: node '" + n.name + "'";
    const Tensor* w = n.inputs.size() > 1 ? graph.find_tensor(n.inputs[1]) : nullptr;
    if (w == nullptr) fail(where, "weight input is not a constant tensor");
    LayerCost l;
    l.node = n.name;
    l.op = op_name(n.op);
    l.encoding = encoding_traits(w->encoding).name;
    l.weights = w->numel();
    const int64_t rows = w->rows(), fan_in = w->cols();
    l.fp32_weight_bits = 32 * l.weights;
    l.runtime_weight_bits = 8 * int64_t(w->payload.size());
    for (const auto& s : archive.tensors) {
      if (s.name != w->name) continue;
      const int64_t floats = s.method == "zstd_floats" ? s.payload_bytes / 4 : s.scale_floats;
      l.stored_weight_bits = (s.method == "zstd_floats" ? 0 : 8 * s.coded_bytes) +
                             int64_t(std::llround(double(floats) * bits_per_stored_float));
    }

    const Shape& out = shapes.at(n.outputs.at(0));
    l.output_positions = 1;
    for (size_t d = 2; d < out.size(); ++d) l.output_positions *= out[d];
    const int64_t outputs = rows * l.output_positions;
    l.macs = outputs * fan_in;
    l.activation_bits = int(attr_int(n.attrs, "act_bits", 0));

    int64_t scale_mults = 0;
    if (w->encoding == Encoding::f32) {
      for (const float v : w->to_floats()) l.nonzero_weights += v != 0.0f;
      l.multiplications = l.macs;
      l.additions = l.macs;
    } else {
      const WeightMatrix m = encoding_traits(w->encoding).unpack(w->payload, rows, fan_in, where);
      l.nonzero_weights = m.nonzeros();
      l.scales = int64_t(m.scale_pos.size()) * (m.asymmetric ? 2 : 1);
      // One scale multiply per scale group of each output (FGQ: alpha times the group's sum);
      // asymmetric groups sum their positive and negative terms apart.
      scale_mults = l.output_positions * l.scales;
      if (is_additive(w->encoding)) {
        l.additions = l.output_positions * l.nonzero_weights;
        l.multiplications = scale_mults;
      } else {  // i8: dense integer MACs, then the scale epilogue
        l.additions = l.macs;
        l.multiplications = l.macs + scale_mults;
      }
    }
    l.multiplications_removed = std::max<int64_t>(0, l.macs - l.multiplications);

    if (l.activation_bits == 0 || w->encoding == Encoding::f32) {
      l.compute_energy_pj = double(l.additions) * energy.fp32_add_pj + double(l.multiplications) * energy.fp32_mult_pj;
    } else {
      l.accumulator_bits = accumulator_bits(l.activation_bits, weight_bits(w->encoding), fan_in);
      const double int_mults = double(l.multiplications - scale_mults);
      l.compute_energy_pj = double(l.additions) * add_pj(energy, l.accumulator_bits) +
                            int_mults * energy.int8_mult_pj + double(scale_mults) * energy.fp32_mult_pj;
    }
    l.weight_fetch_energy_pj = double((l.runtime_weight_bits + 31) / 32) * energy.dram_read_32bit_pj;

    if (is_additive(w->encoding)) {
      const int bits = l.activation_bits > 0 ? l.activation_bits : fpga_activation_bits;
      l.fpga_adders = l.nonzero_weights;
      l.fpga_luts = double(l.nonzero_weights) * cost_per_nonzero_weight(bits, fan_in, /*reuse=*/1);
    }
    accumulate(cost.total, l);
    cost.layers.push_back(std::move(l));
  }
  return cost;
}

ModelSizes model_sizes(const Graph& graph) {
  ModelSizes sizes;
  sizes.stern_bytes = int64_t(serialize_model(graph).size());
  ArchiveStats archive;
  sizes.sternz_bytes = int64_t(compress_model(graph, &archive).size());
  Graph fp32 = graph;
  int64_t dense_ternary = 0, dense_binary = 0, payload = 0;
  for (Tensor& t : fp32.tensors) {
    payload += int64_t(t.payload.size());
    if (t.encoding == Encoding::f32) {
      dense_ternary += int64_t(t.payload.size());
      dense_binary += int64_t(t.payload.size());
      continue;
    }
    sizes.quantized_weights += t.numel();
    dense_ternary += (2 * t.numel() + 7) / 8 + 4 * t.rows();
    dense_binary += (t.numel() + 7) / 8 + 4 * t.rows();
    t = Tensor::from_floats(t.name, t.shape, t.to_floats());
  }
  sizes.fp32_bytes = int64_t(serialize_model(fp32).size());
  // The container's own overhead (graph, table, alignment) is the same whatever the payloads.
  const int64_t overhead = sizes.stern_bytes - payload;
  sizes.dense_ternary_bytes = overhead + dense_ternary;
  sizes.dense_binary_bytes = overhead + dense_binary;
  int64_t coded_bits = 0;
  for (const auto& t : archive.tensors)
    if (t.method == "rans") coded_bits += 8 * t.coded_bytes + 32 * t.scale_floats;
  if (sizes.quantized_weights > 0) sizes.sternz_bits_per_weight = double(coded_bits) / double(sizes.quantized_weights);
  return sizes;
}

}  // namespace stern
