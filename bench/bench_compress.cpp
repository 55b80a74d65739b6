// Entropy decoding speed (docs/BENCHMARKS.md, "Entropy decoding"): the archive's rANS decoder
// against peers on the same symbols in the same run: zstd (level 19) over the raw int8 codes,
// and unpacking the uncompressed ternary2 payload. One thread. Counters: weights/s
// (items_per_second) and the coded size in bits per weight.
#include <benchmark/benchmark.h>
#include <zstd.h>

#include <random>

#include "compress/lenet5.h"
#include "compress/rans.h"
#include "stern/archive.h"
#include "stern/encoding.h"

namespace {

using namespace stern;

constexpr int64_t kRows = 1024, kCols = 1024;  // one 1M-weight layer

WeightMatrix ternary_matrix(double sparsity) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  WeightMatrix m;
  m.rows = kRows;
  m.cols = kCols;
  m.group = kCols;
  m.codes.resize(kRows * kCols);
  for (auto& c : m.codes) c = u(rng) < sparsity ? 0 : (u(rng) < 0.5 ? 1 : -1);
  m.scale_pos.assign(kRows, 0.05f);
  m.scale_neg = m.scale_pos;
  return m;
}

std::vector<uint8_t> symbols_of(const WeightMatrix& m) {
  std::vector<uint8_t> s(m.codes.size());
  for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(m.codes[i] + 1);
  return s;
}

void set_counters(benchmark::State& state, size_t coded_bytes, size_t weights) {
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(weights));
  state.counters["bits_per_weight"] = 8.0 * double(coded_bytes) / double(weights);
}

// Times decoding `s` coded with `model` (outputs code = symbol + base, as the archive does).
void time_rans_decode(benchmark::State& state, const std::vector<uint8_t>& s, const compress::RansModel& model,
                      uint8_t base) {
  const auto coded = compress::rans_encode(s, model);
  std::vector<uint8_t> out(s.size());
  for (auto _ : state) {
    compress::rans_decode(coded, model, out, base, "bench");
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, coded.size(), s.size());
  state.counters["tables"] = double(model.tables.size());
}

compress::RansModel one_table(const std::vector<uint8_t>& s, int alphabet) {
  std::vector<uint64_t> counts(alphabet, 0);
  for (uint8_t x : s) ++counts[x];
  return {{compress::rans_normalize(counts)}, {}, kCols};
}

void BM_rans_decode_ternary(benchmark::State& state) {
  const auto s = symbols_of(ternary_matrix(double(state.range(0)) / 100));
  time_rans_decode(state, s, one_table(s, 3), uint8_t(-1));
}

// Filters of 50/90/99% sparsity in turn: rans_fit picks one table per group of rows.
void BM_rans_decode_ternary_row_tables(benchmark::State& state) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint8_t> s(kRows * kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    const double sparsity = r % 3 == 0 ? 0.5 : (r % 3 == 1 ? 0.9 : 0.99);
    for (int64_t c = 0; c < kCols; ++c) s[r * kCols + c] = u(rng) < sparsity ? 1 : (u(rng) < 0.5 ? 0 : 2);
  }
  time_rans_decode(state, s, compress::rans_fit(s, kCols, 3), uint8_t(-1));
}

void BM_zstd_decode_ternary(benchmark::State& state) {
  const auto s = symbols_of(ternary_matrix(double(state.range(0)) / 100));
  std::vector<uint8_t> coded(ZSTD_compressBound(s.size()));
  coded.resize(ZSTD_compress(coded.data(), coded.size(), s.data(), s.size(), 19));
  std::vector<uint8_t> out(s.size());
  for (auto _ : state) {
    benchmark::DoNotOptimize(ZSTD_decompress(out.data(), out.size(), coded.data(), coded.size()));
  }
  set_counters(state, coded.size(), s.size());
}

void BM_unpack_ternary2(benchmark::State& state) {
  const WeightMatrix m = ternary_matrix(double(state.range(0)) / 100);
  const EncodingTraits& t = encoding_traits(Encoding::ternary2);
  const auto payload = t.pack(m);
  for (auto _ : state) benchmark::DoNotOptimize(t.unpack(payload, kRows, kCols, "bench").codes.data());
  set_counters(state, payload.size(), m.codes.size());
}

void BM_rans_decode_i8(benchmark::State& state) {
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0, 20);
  std::vector<uint8_t> s(kRows * kCols);
  for (auto& x : s) x = uint8_t(std::clamp(std::lround(g(rng)), -127L, 127L) + 127);
  time_rans_decode(state, s, one_table(s, 255), uint8_t(-127));
}

// The whole archive path: checksums, header, rANS, repacking into the run-time encodings.
void BM_load_archive_lenet5(benchmark::State& state) {
  const auto bytes = compress_model(test::lenet5({}));
  for (auto _ : state) benchmark::DoNotOptimize(load_archive_from_memory(bytes, "bench").tensors.size());
  set_counters(state, bytes.size(), 61470);
}

BENCHMARK(BM_rans_decode_ternary)->Arg(50)->Arg(90)->Arg(95)->Arg(99);
BENCHMARK(BM_rans_decode_ternary_row_tables);
BENCHMARK(BM_zstd_decode_ternary)->Arg(50)->Arg(90)->Arg(95)->Arg(99);
BENCHMARK(BM_unpack_ternary2)->Arg(95);
BENCHMARK(BM_rans_decode_i8);
BENCHMARK(BM_load_archive_lenet5);

}  // namespace

BENCHMARK_MAIN();
