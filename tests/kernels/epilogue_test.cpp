// The epilogue kernels of kernels.inc (epilogue, epilogue_codes, runs_epilogue) on
// every ISA the CPU has, bit for bit against their scalar references on odd shapes: sizes
// off every block (16 rows, 16 columns), strides wider than the rows, untouched gaps,
// NaN / infinite / negative-zero results, with and without ReLU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kernels/igemm.h"
#include "runtime/layer.h"

namespace stern::kernels {
namespace {

template <typename K>
bool runnable(const K& kern) {
  if (!kern.needs.met()) std::printf("skipping %s: CPU lacks its ISA\n", kern.name);
  return kern.needs.met();
}

// Bit patterns, so that NaN == NaN and -0 != +0.
void expect_same_bits(const std::vector<float>& got, const std::vector<float>& ref, const char* name,
                      const std::string& where) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i) {
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4), std::memcpy(&b, &ref[i], 4);
    ASSERT_EQ(a, b) << name << " " << where << " at " << i << ": " << got[i] << " vs " << ref[i];
  }
}

// Raw sums with the extremes of the products, scales of both signs, a NaN and an infinite
// scale, biases that make some results exactly zero (-0 after ReLU of a negative zero).
struct EpilogueData {
  std::vector<int32_t> raw, wsum, xsum;
  std::vector<float> scale, bias;
};
EpilogueData epilogue_data(std::mt19937& rng, size_t rows, size_t cols, size_t ldr) {
  std::uniform_int_distribution<int32_t> big(-(1 << 24), 1 << 24), small(-300, 300);
  std::uniform_real_distribution<float> u(-0.05f, 0.05f);
  EpilogueData d;
  d.raw.resize(rows * ldr);
  for (size_t i = 0; i < d.raw.size(); ++i) d.raw[i] = i % 7 ? small(rng) : big(rng);
  d.wsum.resize(cols), d.scale.resize(cols), d.bias.resize(cols), d.xsum.resize(rows);
  for (size_t j = 0; j < cols; ++j) d.wsum[j] = small(rng), d.scale[j] = u(rng), d.bias[j] = 10 * u(rng);
  for (auto& x : d.xsum) x = big(rng);
  if (cols > 3) d.scale[1] = std::numeric_limits<float>::quiet_NaN(), d.scale[2] = INFINITY, d.bias[3] = -0.0f;
  return d;
}

TEST(EpilogueKernels, MatchTheScalarKernelOnOddShapes) {
  std::mt19937 rng(12);
  const EpilogueKernel& scalar = best_epilogue(Isa::scalar);
  for (size_t m : {1, 5, 16, 17, 32, 33})
    for (size_t n : {1, 3, 16, 20, 64})
      for (int layout = 0; layout < 3; ++layout)  // NCHW (conv), rows (linear), both strided
        for (bool relu : {false, true})
          for (int variant = 0; variant < 3; ++variant) {  // xsum or not; raw rows remapped
            const bool with_xsum = variant == 1;
            const size_t ldr = n + 5;
            // Rows in the order of a 5-wide map over a padded width of 7 (the implicit
            // convolution's), the raw block holding all of them.
            std::vector<uint32_t> rows(m);
            for (size_t i = 0; i < m; ++i) rows[i] = uint32_t(i / 5 * 7 + i % 5);
            const EpilogueData d = epilogue_data(rng, variant == 2 ? rows.back() + 1 : m, n, ldr);
            const EpilogueArgs e{d.wsum.data(), with_xsum ? 1 : -128, with_xsum ? d.xsum.data() : nullptr,
                                 d.scale.data(), d.bias.data(), relu ? 0.0f : -INFINITY,
                                 variant == 2 ? rows.data() : nullptr};
            const size_t ldm = layout == 0 ? 1 : layout == 1 ? n + 2 : 3 * n + 1;
            const size_t ldn = layout == 0 ? m + 3 : layout == 1 ? 1 : 3;
            const size_t size = (m - 1) * ldm + (n - 1) * ldn + 1;
            std::vector<float> ref(size, 7.0f);
            scalar.fn(d.raw.data(), ldr, m, n, e, ref.data(), ldm, ldn);
            for (const EpilogueKernel& kern : epilogue_kernels()) {
              if (!runnable(kern)) continue;
              std::vector<float> got(size, 7.0f);
              kern.fn(d.raw.data(), ldr, m, n, e, got.data(), ldm, ldn);
              expect_same_bits(got, ref, kern.name,
                               std::to_string(m) + "x" + std::to_string(n) + " layout " + std::to_string(layout));
            }
          }
}

// The requantizing epilogue against its definition, computed here from the float epilogue's
// scalar reference and the runtime's quantizer: every kernel (the scalar one included) on
// sizes off its 16 x 16 block, with and without ReLU, xsum and remapped rows, for 8-bit
// unsigned / signed, 4-bit codes and a scale whose reciprocal is not normal (the division
// throughout); NaN / infinite values from the data's scales go to the clamps. Bytes between
// rows (ldo > n) stay untouched.
TEST(EpilogueCodesKernels, MatchTheFloatEpilogueThenTheQuantizer) {
  std::mt19937 rng(31);
  const EpilogueKernel& floats = best_epilogue(Isa::scalar);
  const ActQuant acts[] = {ActQuant{8, 0.02f, false, 0, 255}, ActQuant{8, 0.037f, true, -127, 127},
                           ActQuant{4, 0.5f, false, 0, 15}, ActQuant{8, 1e-39f, false, 0, 255}};
  for (size_t m : {1, 5, 16, 17, 33})
    for (size_t n : {1, 3, 16, 20, 64})
      for (bool relu : {false, true})
        for (int variant = 0; variant < 3; ++variant)  // xsum or not; raw rows remapped
          for (const ActQuant& act : acts) {
            const int32_t add = act.is_signed ? 128 : 0;
            std::vector<uint32_t> rows(m);
            for (size_t i = 0; i < m; ++i) rows[i] = uint32_t(i / 5 * 7 + i % 5);
            const size_t ldr = n + 5, ldo = n + 3;
            const EpilogueData d = epilogue_data(rng, variant == 2 ? rows.back() + 1 : m, n, ldr);
            const EpilogueArgs e{d.wsum.data(), variant == 1 ? 1 : -128, variant == 1 ? d.xsum.data() : nullptr,
                                 d.scale.data(), d.bias.data(), relu ? 0.0f : -INFINITY,
                                 variant == 2 ? rows.data() : nullptr};
            std::vector<float> y(m * n);
            floats.fn(d.raw.data(), ldr, m, n, e, y.data(), n, 1);
            std::vector<uint8_t> ref(m * ldo, 0xA5);
            for (size_t i = 0; i < m; ++i)
              for (size_t j = 0; j < n; ++j)
                ref[i * ldo + j] = static_cast<uint8_t>(quantize_activation(y[i * n + j], act) + add);
            for (const EpilogueCodesKernel& kern : epilogue_codes_kernels()) {
              if (!runnable(kern)) continue;
              std::vector<uint8_t> got(m * ldo, 0xA5);
              kern.fn(d.raw.data(), ldr, m, n, e, act, add, got.data(), ldo);
              ASSERT_EQ(got, ref) << kern.name << " " << m << "x" << n << " variant " << variant << " bits "
                                  << act.bits << " scale " << act.scale;
            }
          }
}

TEST(RunsEpilogueKernels, MatchTheScalarKernelOnOddShapes) {
  std::mt19937 rng(13);
  const RunsEpilogueKernel& scalar = best_runs_epilogue(Isa::scalar);
  // Runs as a 14x14 map's tiles give them (rows of 14 over a padded width of 16, the last
  // cut by the tile), and others of 1..64 lanes.
  const std::vector<std::vector<kernels::Run>> tilings = {
      {{0, 0, 14}, {16, 14, 14}, {32, 28, 14}, {48, 42, 14}},
      {{0, 56, 14}, {16, 70, 14}, {32, 84, 14}, {48, 98, 14}},
      {{2, 3, 1}, {5, 9, 17}, {30, 40, 33}},
      {{0, 0, 64}},
      {{0, 5, 16}, {16, 30, 32}, {63, 100, 1}}};
  // 9 channels of 64 lanes (raw rows 70 apart), each with its own correction, scale and bias:
  // odd ones without a correction, NaN scale and -0 bias in two of them.
  constexpr size_t kChannels = 9, kLdr = 70;
  for (const auto& runs : tilings)
    for (size_t ldm : {1, 3})
      for (bool relu : {false, true}) {
        const EpilogueData d = epilogue_data(rng, 1, 16, kChannels * kLdr);
        std::vector<int32_t> wsum(kChannels);
        std::vector<float> scale(kChannels), bias(kChannels);
        for (size_t c = 0; c < kChannels; ++c) {
          wsum[c] = c % 2 ? 0 : d.wsum[c];
          scale[c] = c == 6 ? std::numeric_limits<float>::quiet_NaN() : d.scale[c + 4];
          bias[c] = c == 5 ? -0.0f : d.bias[c + 4];
        }
        const EpilogueArgs e{wsum.data(), -128, nullptr, scale.data(), bias.data(), relu ? 0.0f : -INFINITY, nullptr};
        const size_t ldn = 200 * ldm, size = kChannels * ldn;
        std::vector<float> ref(size, 7.0f);
        scalar.fn(d.raw.data(), kLdr, kChannels, runs.data(), runs.size(), e, ref.data(), ldm, ldn);
        // The reference against the formula (up to FMA contraction here), for the first
        // channel's first run and the last channel's last.
        for (size_t c : {size_t(0), kChannels - 1}) {
          const kernels::Run& run = c ? runs.back() : runs.front();
          for (int32_t i = 0; i < run.length; ++i) {
            const float y =
                static_cast<float>(d.raw[c * kLdr + run.lane + i] - 128 * wsum[c]) * scale[c] + bias[c];
            ASSERT_FLOAT_EQ(ref[c * ldn + (run.pixel + i) * ldm], std::max(y, e.floor));
          }
        }
        for (const RunsEpilogueKernel& kern : runs_epilogue_kernels()) {
          if (!runnable(kern)) continue;
          std::vector<float> got(size, 7.0f);
          kern.fn(d.raw.data(), kLdr, kChannels, runs.data(), runs.size(), e, got.data(), ldm, ldn);
          expect_same_bits(got, ref, kern.name, "ldm " + std::to_string(ldm) + (relu ? " relu" : ""));
        }
      }
}

}  // namespace
}  // namespace stern::kernels
