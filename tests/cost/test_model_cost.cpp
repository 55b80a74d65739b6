// Cost model against counts made here by brute force over the weights and LeNet-5's known
// layer geometry, and against the documented energy table.
#include <gtest/gtest.h>

#include <cmath>

#include "compress/lenet5.h"
#include "stern/cost.h"
#include "stern/format.h"

namespace stern {
namespace {

struct Geometry {
  const char* node;
  int64_t rows, fan_in, positions;
};
// LeNet-5 (tests/compress/lenet5.h): conv1 28x28 outputs (pad 2), conv2 10x10, then linear.
constexpr Geometry kLenet[] = {{"conv1", 6, 25, 784}, {"conv2", 16, 150, 100}, {"fc1", 120, 400, 1},
                               {"fc2", 84, 120, 1},   {"fc3", 10, 84, 1}};

int64_t brute_nonzeros(const Graph& g, const std::string& node) {
  const Tensor& t = *g.find_tensor(node + ".weight");
  int64_t n = 0;
  for (const float w : t.to_floats()) n += w != 0.0f;
  return n;
}

TEST(ModelCost, TernaryLenetCountsMatchBruteForce) {
  test::Lenet5Options o;
  o.group = 5;  // FGQ-style groups: 5 scales per 25-wide conv1 row
  const Graph g = test::lenet5(o);
  const ModelCost cost = model_cost(g);
  ASSERT_EQ(cost.layers.size(), 5u);
  const EnergyTable e;
  int64_t total_adds = 0;
  for (size_t i = 0; i < cost.layers.size(); ++i) {
    const LayerCost& l = cost.layers[i];
    const Geometry& geo = kLenet[i];
    SCOPED_TRACE(geo.node);
    EXPECT_EQ(l.node, geo.node);
    EXPECT_EQ(l.weights, geo.rows * geo.fan_in);
    EXPECT_EQ(l.output_positions, geo.positions);
    EXPECT_EQ(l.macs, geo.rows * geo.positions * geo.fan_in);
    const int64_t nz = brute_nonzeros(g, geo.node);
    EXPECT_EQ(l.nonzero_weights, nz);
    EXPECT_EQ(l.additions, nz * geo.positions);
    const int64_t groups = (geo.fan_in + 4) / 5;
    EXPECT_EQ(l.multiplications, geo.rows * groups * geo.positions);
    EXPECT_EQ(l.multiplications_removed, l.macs - l.multiplications);
    // 8-bit unsigned activations times 2-bit signed weights over fan_in terms.
    const int acc = 8 + 2 + int(std::ceil(std::log2(double(geo.fan_in))));
    EXPECT_EQ(l.accumulator_bits, acc);
    EXPECT_NEAR(l.compute_energy_pj, double(l.additions) * e.int32_add_pj + double(l.multiplications) * e.fp32_mult_pj,
                1e-6 * l.compute_energy_pj);
    const Tensor& w = *g.find_tensor(std::string(geo.node) + ".weight");
    EXPECT_EQ(l.runtime_weight_bits, 8 * int64_t(w.payload.size()));
    EXPECT_NEAR(l.weight_fetch_energy_pj, std::ceil(double(l.runtime_weight_bits) / 32) * e.dram_read_32bit_pj, 1e-6);
    EXPECT_GT(l.stored_weight_bits, 0);
    EXPECT_LT(l.stored_weight_bits, l.runtime_weight_bits);
    EXPECT_EQ(l.fpga_adders, nz);
    EXPECT_NEAR(l.fpga_luts, double(nz) * cost_per_nonzero_weight(8, geo.fan_in, 1), 1e-9);
    total_adds += l.additions;
  }
  EXPECT_EQ(cost.total.additions, total_adds);
  EXPECT_EQ(cost.total.macs, 117600 + 240000 + 48000 + 10080 + 840);
}

TEST(ModelCost, FloatLayersMultiplyEverything) {
  test::Lenet5Options o;
  o.encoding = Encoding::f32;
  o.act_bits = 0;
  const ModelCost cost = model_cost(test::lenet5(o));
  const EnergyTable e;
  for (const LayerCost& l : cost.layers) {
    EXPECT_EQ(l.multiplications, l.macs);
    EXPECT_EQ(l.additions, l.macs);
    EXPECT_EQ(l.multiplications_removed, 0);
    EXPECT_EQ(l.accumulator_bits, 0);
    EXPECT_EQ(l.fpga_adders, 0);
    EXPECT_NEAR(l.compute_energy_pj, double(l.macs) * (e.fp32_add_pj + e.fp32_mult_pj), 1e-6 * l.compute_energy_pj);
  }
}

TEST(ModelCost, Int8LayersUseIntegerMacs) {
  test::Lenet5Options o;
  o.encoding = Encoding::i8;
  o.sparsity = 0.5;
  const ModelCost cost = model_cost(test::lenet5(o));
  const EnergyTable e;
  for (const LayerCost& l : cost.layers) {
    const int64_t scale_mults = l.scales * l.output_positions;
    EXPECT_EQ(l.multiplications, l.macs + scale_mults);
    EXPECT_NEAR(l.compute_energy_pj,
                double(l.macs) * (e.int8_mult_pj + e.int32_add_pj) + double(scale_mults) * e.fp32_mult_pj,
                1e-6 * l.compute_energy_pj);
  }
}

TEST(ModelCost, AccumulatorBitsNeverOverflow) {
  // Brute force: the extreme sum must fit the signed width.
  for (int a : {1, 4, 8}) {
    for (int w : {2, 8}) {
      for (int64_t terms : {1, 2, 3, 25, 150, 400, 4096}) {
        const int bits = accumulator_bits(a, w, terms);
        const double extreme = double(terms) * (std::pow(2.0, a) - 1) * std::pow(2.0, w - 1);
        EXPECT_LE(extreme, std::pow(2.0, bits - 1)) << a << " " << w << " " << terms;
      }
    }
  }
}

TEST(ModelSizes, RatiosAgainstTheFp32Container) {
  const Graph g = test::lenet5({});
  test::Lenet5Options fp32;
  fp32.encoding = Encoding::f32;
  const ModelSizes s = model_sizes(g);
  EXPECT_EQ(s.fp32_bytes, int64_t(serialize_model(test::lenet5(fp32)).size()));
  EXPECT_EQ(s.stern_bytes, int64_t(serialize_model(g).size()));
  EXPECT_EQ(s.quantized_weights, 61470);
  EXPECT_LT(s.sternz_bytes, s.dense_ternary_bytes);
  EXPECT_LT(s.dense_binary_bytes, s.dense_ternary_bytes);
  EXPECT_GT(s.sternz_bits_per_weight, 0.3);  // entropy of 95% sparse ternary is 0.336 bit
  EXPECT_LT(s.sternz_bits_per_weight, 0.6);
}

}  // namespace
}  // namespace stern
