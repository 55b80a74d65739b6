// Random signed-binary / binary layers and their ground truth computed from the unpacked
// codes (independent of the bitmap and lut layouts), shared by test_signed_binary.cpp and
// test_binary.cpp.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/signed_binary/bitmap_gemm.h"
#include "stern/encoding.h"

namespace stern::sbin::testing {

// rows x cols signed-binary codes: filter r has sign (-1)^r, each weight is non-zero with
// probability 1 - sparsity, and filter 0 is all zero whatever the sparsity.
inline WeightMatrix random_signed_binary(int64_t rows, int64_t cols, double sparsity,
                                         std::mt19937& rng, bool unit_scales) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = cols;
  m.codes.assign(size_t(rows * cols), 0);
  std::bernoulli_distribution nonzero(1 - sparsity);
  std::uniform_real_distribution<float> scale(0.25f, 2.f);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c)
      if (r > 0 && nonzero(rng)) m.codes[size_t(r * cols + c)] = r % 2 ? -1 : 1;
    m.scale_pos.push_back(unit_scales ? 1.f : scale(rng));
  }
  m.scale_neg = m.scale_pos;
  return m;
}

// rows x cols binary codes (+-1, half each); asymmetric draws separate alpha+ and alpha-.
inline WeightMatrix random_binary(int64_t rows, int64_t cols, std::mt19937& rng,
                                  bool unit_scales, bool asymmetric) {
  WeightMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.group = cols;
  m.asymmetric = asymmetric;
  std::bernoulli_distribution positive(0.5);
  std::uniform_real_distribution<float> scale(0.25f, 2.f);
  for (int64_t i = 0; i < rows * cols; ++i) m.codes.push_back(positive(rng) ? 1 : -1);
  for (int64_t r = 0; r < rows; ++r) {
    m.scale_pos.push_back(unit_scales ? 1.f : scale(rng));
    m.scale_neg.push_back(unit_scales || !asymmetric ? m.scale_pos.back() : scale(rng));
  }
  return m;
}

// Activation codes as bytes: uint8 in [0, 255] or int8 in [-128, 127].
inline std::vector<uint8_t> random_bytes(size_t n, std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(byte(rng));
  return v;
}

inline int value_of(uint8_t byte, bool is_signed) { return is_signed ? int(int8_t(byte)) : int(byte); }

// sum_k x[m][k] * w[n][k] with w the dequantized weight, in double, plus bias and ReLU.
inline std::vector<double> reference(const WeightMatrix& w, const std::vector<uint8_t>& x,
                                     int64_t rows, bool is_signed, double a_scale,
                                     const std::vector<float>& bias, bool relu) {
  std::vector<double> y(size_t(rows * w.rows));
  for (int64_t m = 0; m < rows; ++m)
    for (int64_t n = 0; n < w.rows; ++n) {
      double s = 0;
      for (int64_t k = 0; k < w.cols; ++k) {
        const int8_t code = w.codes[size_t(n * w.cols + k)];
        const double weight = code == 0 ? 0.0 : code * double(code < 0 ? w.scale_neg[n] : w.scale_pos[n]);
        s += weight * value_of(x[size_t(m * w.cols + k)], is_signed);
      }
      s = s * a_scale + (bias.empty() ? 0.0 : bias[size_t(n)]);
      y[size_t(m * w.rows + n)] = relu && s < 0 ? 0 : s;
    }
  return y;
}

}  // namespace stern::sbin::testing
