// rANS coder against brute-force truth: exact round trips, coded size against the empirical
// entropy computed independently here, and rejection of damaged streams.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "compress/rans.h"
#include "stern/error.h"

namespace stern::compress {
namespace {

std::vector<uint8_t> random_symbols(std::vector<double> p, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::discrete_distribution<int> d(p.begin(), p.end());
  std::vector<uint8_t> s(n);
  for (auto& x : s) x = uint8_t(d(rng));
  return s;
}

std::vector<uint64_t> count(const std::vector<uint8_t>& s, size_t alphabet) {
  std::vector<uint64_t> c(alphabet, 0);
  for (uint8_t x : s) ++c[x];
  return c;
}

double entropy_bits(const std::vector<uint64_t>& c) {
  double n = 0, bits = 0;
  for (auto x : c) n += double(x);
  for (auto x : c)
    if (x) bits -= double(x) * std::log2(double(x) / n);
  return bits;
}

RansModel one_table(std::vector<uint32_t> freq, size_t n) {
  return RansModel{{std::move(freq)}, {}, int64_t(std::max<size_t>(n, 1))};
}

void expect_round_trip(const std::vector<uint8_t>& s, size_t alphabet) {
  const auto counts = count(s, alphabet);
  const auto freq = rans_normalize(counts);
  uint64_t total = 0;
  for (auto f : freq) total += f;
  ASSERT_EQ(total, kRansTotal);
  if (!s.empty()) {  // an empty stream gets a one-symbol table
    for (size_t k = 0; k < alphabet; ++k) EXPECT_EQ(counts[k] > 0, freq[k] > 0) << k;
  }
  const auto coded = rans_encode(s, one_table(freq, s.size()));
  std::vector<uint8_t> out(s.size(), 0xAA);
  rans_decode(coded, one_table(freq, s.size()), out, 0, "test");
  ASSERT_EQ(out, s);
  // Within 1% of the empirical entropy plus the four 32-bit final states.
  EXPECT_LE(double(coded.size()) * 8, 1.01 * entropy_bits(counts) + 4 * 32 + 16) << s.size();
}

TEST(Rans, RoundTripsTernaryDistributions) {
  for (double sparsity : {0.0, 0.5, 0.9, 0.95, 0.99}) {
    const double nz = (1 - sparsity) / 2;
    expect_round_trip(random_symbols({nz, sparsity, nz}, 100000, 7), 3);
  }
}

TEST(Rans, RoundTripsOddLengthsAndTinyStreams) {
  for (size_t n : {0, 1, 2, 3, 4, 5, 7, 9, 31, 1001}) expect_round_trip(random_symbols({0.3, 0.7}, n, 3), 2);
}

TEST(Rans, RoundTripsWideAlphabet) {
  std::vector<double> p(255);
  for (size_t k = 0; k < p.size(); ++k) p[k] = std::exp(-std::abs(double(k) - 127) / 10.0);
  expect_round_trip(random_symbols(p, 200000, 11), 255);
  std::vector<double> flat(256, 1.0);
  expect_round_trip(random_symbols(flat, 50000, 12), 256);
}

TEST(Rans, SingleSymbolCodesToNothing) {
  const std::vector<uint8_t> s(1000, 2);
  const auto freq = rans_normalize(count(s, 3));
  EXPECT_TRUE(rans_encode(s, one_table(freq, s.size())).empty());
  std::vector<uint8_t> out(s.size());
  rans_decode({}, one_table(freq, s.size()), out, /*base=*/0xFF, "test");
  EXPECT_EQ(out, std::vector<uint8_t>(1000, 1));  // 2 + 0xFF wraps to 1: the base is added mod 256
  const std::vector<uint8_t> junk = {1, 2};
  EXPECT_THROW(rans_decode(junk, one_table(freq, s.size()), out, 0, "test"), Error);
}

TEST(Rans, RejectsDamage) {
  const auto s = random_symbols({0.05, 0.9, 0.05}, 20000, 5);
  const auto freq = rans_normalize(count(s, 3));
  const auto coded = rans_encode(s, one_table(freq, s.size()));
  std::vector<uint8_t> out(s.size());
  auto decode = [&](std::vector<uint8_t> bytes, std::vector<uint32_t> f) {
    rans_decode(bytes, one_table(f, s.size()), out, 0, "layer 'fc1'");
  };
  for (size_t cut : {size_t(0), size_t(2), size_t(15), coded.size() / 2, coded.size() - 2}) {
    EXPECT_THROW(decode({coded.begin(), coded.begin() + cut}, freq), Error) << cut;
  }
  auto longer = coded;
  longer.insert(longer.end(), {0, 0});
  EXPECT_THROW(decode(longer, freq), Error);
  auto bad_freq = freq;
  ++bad_freq[0];
  EXPECT_THROW(decode(coded, bad_freq), Error);
  // A flipped bit anywhere changes the decoder's path; the final-state check must catch it.
  int caught = 0;
  for (size_t i = 0; i < coded.size(); i += 37) {
    auto flipped = coded;
    flipped[i] ^= 0x10;
    try {
      decode(flipped, freq);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("layer 'fc1'"), std::string::npos);
      ++caught;
    }
  }
  EXPECT_EQ(caught, int((coded.size() + 36) / 37));
}

// Filters of very different density: one table per group of rows must beat one table for
// all, by about the gap between the per-row entropies and the pooled one, computed here.
TEST(Rans, RowTablesPayWhereFiltersDiffer) {
  const int64_t rows = 64, cols = 300;
  std::vector<uint8_t> s;
  double row_entropy = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const double sparsity = r % 4 == 0 ? 0.5 : (r % 4 == 1 ? 0.8 : (r % 4 == 2 ? 0.95 : 0.995));
    const auto row = random_symbols({(1 - sparsity) / 2, sparsity, (1 - sparsity) / 2}, cols, uint32_t(r));
    row_entropy += entropy_bits(count(row, 3));
    s.insert(s.end(), row.begin(), row.end());
  }
  const RansModel fit = rans_fit(s, cols, 3);
  ASSERT_GT(fit.tables.size(), 1u);
  ASSERT_EQ(fit.row_table.size(), size_t(rows));
  const auto coded = rans_encode(s, fit);
  std::vector<uint8_t> out(s.size());
  rans_decode(coded, fit, out, 0, "test");
  ASSERT_EQ(out, s);
  const double pooled = entropy_bits(count(s, 3));
  EXPECT_LT(8.0 * double(coded.size()), pooled * 0.9);
  EXPECT_LT(8.0 * double(coded.size()), row_entropy * 1.03 + 4 * 32);

  RansModel bad = fit;
  bad.row_table[3] = uint8_t(fit.tables.size());
  EXPECT_THROW(rans_decode(coded, bad, out, 0, "test"), Error);
  bad = fit;
  bad.row_table.pop_back();
  EXPECT_THROW(rans_decode(coded, bad, out, 0, "test"), Error);
  bad = fit;
  bad.cols = 7;  // 19200 symbols are not rows of 7
  EXPECT_THROW(rans_decode(coded, bad, out, 0, "test"), Error);
}

TEST(Rans, IidRowsKeepOneTable) {
  const auto s = random_symbols({0.025, 0.95, 0.025}, 120 * 400, 9);
  EXPECT_EQ(rans_fit(s, 400, 3).tables.size(), 1u);
}

}  // namespace
}  // namespace stern::compress
