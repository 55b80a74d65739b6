#include <cmath>

#include "stern/cost.h"

namespace stern {

int accumulator_bits(int activation_bits, int weight_bits, int64_t terms) {
  // |sum| <= terms * (2^a - 1) * 2^(w-1): the product needs a + w bits signed, and summing
  // `terms` of them adds ceil(log2(terms)) carry bits.
  const int carry = terms > 1 ? int(std::ceil(std::log2(double(terms)))) : 0;
  return activation_bits + weight_bits + carry;
}

double cost_per_nonzero_weight(int activation_bits, int64_t fan_in, int64_t reuse) {
  // One ripple-carry adder of the accumulator's width costs one LUT per bit on 6-input LUT
  // FPGAs (Xilinx 7-series and later, carry chain included). Where the adder is folded over
  // `reuse` outputs, each output pays 1/reuse of it. A stored non-zero also needs its
  // position and sign on chip: ceil(log2(fan_in)) + 1 bits, at 64 bits per LUT used as
  // distributed RAM.
  const double adder_luts = accumulator_bits(activation_bits, /*weight_bits=*/2, fan_in);
  const double index_bits = (fan_in > 1 ? std::ceil(std::log2(double(fan_in))) : 0.0) + 1.0;
  const double memory_luts = index_bits / 64.0;
  return adder_luts / double(reuse > 0 ? reuse : 1) + memory_luts;
}

}  // namespace stern
