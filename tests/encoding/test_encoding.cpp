// Every encoding in the table: pack -> unpack is the identity on its alphabet, payload size
// matches the documented layout, and malformed payloads are refused with a stern::Error.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "stern/encoding.h"
#include "stern/error.h"

namespace stern {
namespace {

// A random matrix over the encoding's alphabet; signed_binary rows are single-signed.
WeightMatrix random_matrix(Encoding e, int64_t rows, int64_t cols, int64_t group, bool asym,
                           double density, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  const EncodingTraits& t = encoding_traits(e);
  WeightMatrix m;
  m.rows = rows, m.cols = cols, m.group = group, m.asymmetric = asym;
  if (e == Encoding::f32) {
    for (int64_t i = 0; i < rows * cols; ++i) m.values.push_back(u(rng) * 2 - 1);
    return m;
  }
  std::uniform_int_distribution<int> code(t.min_code, t.max_code);
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t row_sign = r % 2 ? -1 : 1;
    for (int64_t c = 0; c < cols; ++c) {
      int8_t v = int8_t(code(rng));
      if (e == Encoding::binary) v = u(rng) < 0.5 ? -1 : 1;
      else if (u(rng) >= density) v = 0;
      else if (e == Encoding::signed_binary) v = row_sign;
      else if (v == 0) v = 1;
      m.codes.push_back(v);
    }
  }
  for (int64_t i = 0; i < rows * m.groups_per_row(); ++i) m.scale_pos.push_back(0.1f + u(rng));
  m.scale_neg = m.scale_pos;
  if (asym)
    for (float& s : m.scale_neg) s *= 1.5f;
  return m;
}

struct Case {
  Encoding e;
  int64_t rows, cols, group;
  bool asym;
  double density;
};

class EncodingRoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(EncodingRoundTrip, PackUnpackIsIdentity) {
  const Case c = GetParam();
  const EncodingTraits& t = encoding_traits(c.e);
  const WeightMatrix m = random_matrix(c.e, c.rows, c.cols, c.group, c.asym, c.density, 7);
  const std::vector<uint8_t> bytes = t.pack(m);
  const WeightMatrix back = t.unpack(bytes, c.rows, c.cols, "test");
  EXPECT_EQ(back.codes, m.codes);
  EXPECT_EQ(back.values, m.values);
  if (c.e != Encoding::f32) {
    EXPECT_EQ(back.group, m.group);
    EXPECT_EQ(back.scale_pos, m.scale_pos);
    EXPECT_EQ(back.scale_neg, m.scale_neg);
  }
  // Dequantization and the reference dot product agree with the canonical weight().
  const std::vector<float> deq = dequantize(c.e, bytes, c.rows, c.cols, "test");
  std::vector<float> x(c.cols);
  for (int64_t i = 0; i < c.cols; ++i) x[i] = float(i % 7) - 3.0f;
  for (int64_t r = 0; r < c.rows; ++r) {
    double expect = 0;
    for (int64_t col = 0; col < c.cols; ++col) {
      ASSERT_EQ(deq[r * c.cols + col], m.weight(r, col));
      expect += double(deq[r * c.cols + col]) * x[col];
    }
    EXPECT_NEAR(t.dot_ref(m, r, x.data()), expect, 1e-4 * (1 + std::abs(expect)));
  }
  // Every strict prefix of the payload is refused: no encoding accepts a truncation.
  for (size_t cut : {size_t(0), bytes.size() / 3, bytes.size() - 1}) {
    EXPECT_THROW(t.unpack(std::span(bytes.data(), cut), c.rows, c.cols, "test"), Error);
  }
  // So is a trailing byte.
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_THROW(t.unpack(longer, c.rows, c.cols, "test"), Error);
}

INSTANTIATE_TEST_SUITE_P(
    All, EncodingRoundTrip,
    ::testing::Values(Case{Encoding::f32, 3, 5, 5, false, 1}, Case{Encoding::i8, 4, 33, 33, false, 0.7},
                      Case{Encoding::i8, 2, 10, 4, true, 0.5},
                      Case{Encoding::ternary2, 5, 37, 37, false, 0.4},
                      Case{Encoding::ternary2, 3, 64, 16, true, 0.9},
                      Case{Encoding::ternary2, 1, 1, 1, false, 1.0},
                      Case{Encoding::ternary_sparse, 6, 301, 301, false, 0.05},
                      Case{Encoding::ternary_sparse, 2, 70000, 4096, true, 0.01},
                      Case{Encoding::ternary_sparse, 3, 9, 9, false, 0.0},
                      Case{Encoding::signed_binary, 7, 27, 27, false, 0.31},
                      Case{Encoding::binary, 4, 19, 19, false, 1.0}),
    [](const auto& info) {
      const Case& c = info.param;
      return std::string(encoding_traits(c.e).name) + "_" + std::to_string(c.rows) + "x" +
             std::to_string(c.cols) + "_g" + std::to_string(c.group) + (c.asym ? "_asym" : "");
    });

// density(): non-zero codes (or values) over rows * cols, by counting here; 0 when empty.
TEST(Encoding, DensityCountsTheNonZeroWeights) {
  WeightMatrix m;
  m.rows = 2, m.cols = 4, m.group = 4;
  m.codes = {0, 1, -1, 0, 0, 0, 1, 0};
  EXPECT_DOUBLE_EQ(m.density(), 3.0 / 8.0);
  WeightMatrix f;
  f.rows = 1, f.cols = 4;
  f.values = {0.0f, 2.5f, 0.0f, -1.0f};
  EXPECT_DOUBLE_EQ(f.density(), 0.5);
  EXPECT_EQ(WeightMatrix{}.density(), 0.0);
}

TEST(Encoding, PayloadSizesFollowTheDocumentedLayout) {
  const int64_t rows = 3, cols = 10, header = 8, scales = rows * 4;
  auto size = [&](Encoding e, double density) {
    return encoding_traits(e).pack(random_matrix(e, rows, cols, cols, false, density, 1)).size();
  };
  EXPECT_EQ(size(Encoding::f32, 1), size_t(rows * cols * 4));
  EXPECT_EQ(size(Encoding::i8, 1), size_t(header + scales + rows * cols));
  EXPECT_EQ(size(Encoding::ternary2, 1), size_t(header + scales + rows * 3));
  EXPECT_EQ(size(Encoding::signed_binary, 1), size_t(header + scales + rows + rows * 2));
  EXPECT_EQ(size(Encoding::binary, 1), size_t(header + scales + rows * 2));
  EXPECT_EQ(size(Encoding::ternary_sparse, 0), size_t(header + scales + rows * 8));
}

TEST(Encoding, PackRefusesCodesOutsideTheAlphabet) {
  WeightMatrix m = random_matrix(Encoding::ternary2, 2, 8, 8, false, 1, 3);
  m.codes[3] = 2;
  EXPECT_THROW(encoding_traits(Encoding::ternary2).pack(m), Error);
  WeightMatrix b = random_matrix(Encoding::binary, 2, 8, 8, false, 1, 3);
  b.codes[0] = 0;
  EXPECT_THROW(encoding_traits(Encoding::binary).pack(b), Error);
  WeightMatrix s = random_matrix(Encoding::signed_binary, 2, 8, 8, false, 1, 3);
  s.codes[0] = 1, s.codes[1] = -1;
  EXPECT_THROW(encoding_traits(Encoding::signed_binary).pack(s), Error);
  WeightMatrix g = random_matrix(Encoding::i8, 2, 8, 8, false, 1, 3);
  g.group = 9;
  EXPECT_THROW(encoding_traits(Encoding::i8).pack(g), Error);
}

TEST(Encoding, UnpackRefusesMalformedPayloads) {
  const WeightMatrix t = random_matrix(Encoding::ternary2, 2, 6, 6, false, 1, 5);
  std::vector<uint8_t> bytes = encoding_traits(Encoding::ternary2).pack(t);
  auto refuses = [](Encoding e, std::vector<uint8_t> b, int64_t rows, int64_t cols) {
    EXPECT_THROW(encoding_traits(e).unpack(b, rows, cols, "t"), Error);
  };
  std::vector<uint8_t> bad = bytes;
  bad.back() |= 0xF0;  // padding bit pairs of the last row (cols 6, 7) set
  refuses(Encoding::ternary2, bad, 2, 6);
  bad = bytes;
  bad[8 + 8] = 0xFF;  // code 0b11
  refuses(Encoding::ternary2, bad, 2, 6);
  bad = bytes;
  bad[0] = 0;  // group 0
  refuses(Encoding::ternary2, bad, 2, 6);
  bad = bytes;
  bad[4] = 2;  // asymmetric flag 2
  refuses(Encoding::ternary2, bad, 2, 6);
  bad = bytes;
  const uint32_t nan_bits = 0x7FC00000;
  std::memcpy(&bad[8], &nan_bits, 4);
  refuses(Encoding::ternary2, bad, 2, 6);
  // Shape disagreeing with the payload.
  refuses(Encoding::ternary2, bytes, 3, 6);

  WeightMatrix s = random_matrix(Encoding::ternary_sparse, 1, 8, 8, false, 0.5, 9);
  std::fill(s.codes.begin(), s.codes.end(), 0);
  s.codes[2] = 1, s.codes[5] = -1;
  std::vector<uint8_t> sp = encoding_traits(Encoding::ternary_sparse).pack(s);
  // Layout: 8 header + 4 scale + 8 counts + 2 x uint16 indices.
  ASSERT_EQ(sp.size(), 24u);
  bad = sp;
  bad[20] = 9;  // +1 index beyond cols
  refuses(Encoding::ternary_sparse, bad, 1, 8);
  bad = sp;
  bad[22] = 2;  // -1 index equal to the +1 index
  refuses(Encoding::ternary_sparse, bad, 1, 8);
  bad = sp;
  bad[12] = 200;  // count exceeding cols
  refuses(Encoding::ternary_sparse, bad, 1, 8);

  WeightMatrix sb = random_matrix(Encoding::signed_binary, 1, 8, 8, false, 0.5, 2);
  bad = encoding_traits(Encoding::signed_binary).pack(sb);
  bad[12] = 0;  // filter sign 0
  refuses(Encoding::signed_binary, bad, 1, 8);
  EXPECT_THROW(encoding_traits_checked(kEncodingCount, "t"), Error);
  EXPECT_THROW(encoding_from_name("ternary3"), Error);
  EXPECT_EQ(encoding_from_name("ternary_sparse"), Encoding::ternary_sparse);
}

}  // namespace
}  // namespace stern
