// The hardware cost model (docs/COST.md): one source of truth for the training regularizer
// (cost per non-zero weight) and for `stern cost` reports.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

// Cost, in FPGA LUT-equivalents, of one non-zero weight in a fully unrolled ternary layer
// (the dataflow accelerators of Faraone et al.): the adder it needs at the accumulator's
// width, plus the on-chip bits that describe where it is. `fan_in` is the layer's inputs
// per output (C*kh*kw); `reuse` is how many outputs share that adder in time (1 when fully
// unrolled, output pixels when folded over space).
double cost_per_nonzero_weight(int activation_bits, int64_t fan_in, int64_t reuse);

// Width of an accumulator that cannot overflow summing `terms` products of `activation_bits`
// unsigned activations by `weight_bits` signed weights.
int accumulator_bits(int activation_bits, int weight_bits, int64_t terms);

// ---- Per-layer and whole-model cost (`stern cost`, reports) ----

// Energy per operation in picojoules, 45 nm, from M. Horowitz, "Computing's energy problem
// (and what we can do about it)", ISSCC 2014. docs/COST.md says how each is used.
struct EnergyTable {
  double int8_add_pj = 0.03;
  double int32_add_pj = 0.1;
  double int8_mult_pj = 0.2;
  double int32_mult_pj = 3.1;
  double fp32_add_pj = 0.9;
  double fp32_mult_pj = 3.7;
  double sram_read_32bit_pj = 5.0;  // 8 KB SRAM
  double dram_read_32bit_pj = 640.0;
};

// One conv2d / linear layer, for one input sample (batch 1).
struct LayerCost {
  std::string node;
  std::string op;
  std::string encoding;
  int64_t weights = 0;
  int64_t nonzero_weights = 0;
  int64_t scales = 0;           // stored scale factors (0 for f32)
  int64_t fp32_weight_bits = 0; // the same layer's weights as float32
  int64_t runtime_weight_bits = 0;  // the encoding's payload in memory (.stern), scales included
  int64_t stored_weight_bits = 0;   // entropy-coded in the .sternz archive, scales included
  int64_t output_positions = 0;     // outputs per filter (H*W for conv, 1 for linear)
  int64_t macs = 0;                 // dense multiply-accumulates: outputs * fan-in
  int64_t multiplications = 0;     // what remains after quantization
  int64_t multiplications_removed = 0;
  int64_t additions = 0;
  int activation_bits = 0;          // 0: float activations
  int accumulator_bits = 0;         // 0 for float layers
  double compute_energy_pj = 0;
  double weight_fetch_energy_pj = 0;  // every weight word read once from DRAM
  // FPGA, fully unrolled (ternary, signed-binary and binary layers only): one adder per
  // non-zero weight at the accumulator width.
  int64_t fpga_adders = 0;
  double fpga_luts = 0;
};

struct ModelCost {
  std::vector<LayerCost> layers;
  LayerCost total;  // sums; node = "total"
  EnergyTable energy;
};

// Costs every conv2d / linear node of a validated graph. `fpga_activation_bits` is the
// activation width assumed for layers with float activations in the FPGA estimate.
ModelCost model_cost(const Graph& graph, const EnergyTable& energy = {}, int fpga_activation_bits = 8);

// Whole-model sizes in bytes, headers included, for compression ratios (docs/COST.md).
struct ModelSizes {
  int64_t fp32_bytes = 0;          // .stern of the same graph with every tensor as float32
  int64_t stern_bytes = 0;         // .stern as it is
  int64_t sternz_bytes = 0;        // .sternz archive
  int64_t dense_ternary_bytes = 0; // .stern bytes with each quantized weight at 2 bits + a scale per row
  int64_t dense_binary_bytes = 0;  // the same at 1 bit per weight
  int64_t quantized_weights = 0;   // weights of non-f32 conv/linear tensors
  double sternz_bits_per_weight = 0;  // archive bits of those weights (codes + scales) per weight
};
ModelSizes model_sizes(const Graph& graph);

}  // namespace stern
