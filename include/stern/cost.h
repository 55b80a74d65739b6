// The hardware cost model (docs/COST.md): one source of truth for the training regularizer
// (cost per non-zero weight) and for `stern cost` reports.
#pragma once
#include <cstdint>

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

}  // namespace stern
