// .sternz archive: exact round trips for every encoding (checked against the container's own
// serialization), the size targets of docs/COMPRESSION.md, and a corruption corpus.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include "compress/lenet5.h"
#include "stern/archive.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/model_io.h"

namespace stern {
namespace {

using test::Lenet5Options;

// Zeroth-order empirical entropy of a tensor's codes, computed here from the container's
// payload (independently of the archive's own statistics).
double code_entropy_bits(const Tensor& t) {
  const WeightMatrix m = encoding_traits(t.encoding).unpack(t.payload, t.rows(), t.cols(), t.name);
  std::map<int, double> counts;
  for (int8_t c : m.codes) counts[c] += 1;
  double bits = 0;
  for (const auto& [code, n] : counts) bits -= n * std::log2(n / double(m.codes.size()));
  return bits;
}

void expect_same_model(const Graph& a, const Graph& b) {
  EXPECT_EQ(serialize_model(a), serialize_model(b));
}

TEST(Archive, RoundTripsEveryEncoding) {
  for (Encoding e : {Encoding::f32, Encoding::i8, Encoding::ternary2, Encoding::ternary_sparse,
                     Encoding::signed_binary, Encoding::binary}) {
    for (bool asymmetric : {false, true}) {
      if (asymmetric && (e == Encoding::signed_binary || e == Encoding::binary || e == Encoding::f32)) continue;
      Lenet5Options o;
      o.encoding = e;
      o.asymmetric = asymmetric;
      o.group = asymmetric ? 4 : 0;
      o.sparsity = 0.7;
      const Graph g = test::lenet5(o);
      ArchiveStats stats;
      const auto bytes = compress_model(g, &stats);
      SCOPED_TRACE(encoding_traits(e).name);
      expect_same_model(load_archive_from_memory(bytes, "m.sternz"), g);
      for (const auto& t : stats.tensors)
        EXPECT_EQ(t.method, t.encoding == "f32" ? "zstd_floats" : "rans") << t.name;
    }
  }
}

TEST(Archive, KeepsAttributesOfEveryTypeAndOddFloats) {
  Graph g = test::lenet5({});
  g.metadata["accuracy"] = 0.9912;
  g.metadata["nan"] = std::nan("");
  g.metadata["neg_inf"] = -INFINITY;
  g.metadata["neg_zero"] = -0.0;
  g.metadata["epochs"] = int64_t{-12};
  g.metadata["list"] = std::vector<double>{1e-300, 3.0, INFINITY};
  g.metadata["name"] = std::string("caf\xc3\xa9 \"quoted\"\n");
  expect_same_model(load_archive_from_memory(compress_model(g), "m.sternz"), g);
}

TEST(Archive, NonCanonicalPayloadFallsBackToRawAndStaysExact) {
  Graph g = test::lenet5({});
  Tensor& t = g.tensors[0];
  std::vector<uint8_t> bytes(t.payload.begin(), t.payload.end());
  bytes[5] = 1;  // a reserved byte of the scale header: ignored by unpack, lost by pack
  t = Tensor::from_bytes(t.name, t.encoding, t.shape, bytes);
  ArchiveStats stats;
  const auto z = compress_model(g, &stats);
  EXPECT_EQ(stats.tensors[0].method, "zstd_raw");
  expect_same_model(load_archive_from_memory(z, "m.sternz"), g);
}

TEST(Archive, CodedWeightsWithinThreePercentOfEntropy) {
  for (Encoding e : {Encoding::ternary2, Encoding::ternary_sparse, Encoding::i8, Encoding::signed_binary, Encoding::binary}) {
    for (double sparsity : {0.5, 0.95}) {
      Lenet5Options o;
      o.encoding = e;
      o.sparsity = sparsity;
      const Graph g = test::lenet5(o);
      ArchiveStats stats;
      compress_model(g, &stats);
      for (const auto& s : stats.tensors) {
        if (s.method != "rans") continue;
        const Tensor& t = *g.find_tensor(s.name);
        const double h = code_entropy_bits(t);
        EXPECT_NEAR(s.entropy_bits, h, 1e-6 * h + 1e-9);
        // Headers: the four final rANS states, and signed_binary's one sign bit per row.
        const double header_bits = 4 * 32 + (e == Encoding::signed_binary ? double((t.rows() + 7) / 8 * 8) : 0);
        EXPECT_LE(8.0 * double(s.coded_bytes), 1.03 * h + header_bits)
            << encoding_traits(e).name << " " << s.name << " sparsity " << sparsity;
      }
    }
  }
}

TEST(Archive, SparseTernaryLenet5IsFiftyTimesSmallerThanFp32) {
  Lenet5Options fp32;
  fp32.encoding = Encoding::f32;
  const size_t fp32_bytes = serialize_model(test::lenet5(fp32)).size();
  const auto z = compress_model(test::lenet5({}));  // ternary2, 95% sparse, per-row scales
  const double ratio = double(fp32_bytes) / double(z.size());
  RecordProperty("fp32_bytes", std::to_string(fp32_bytes));
  RecordProperty("sternz_bytes", std::to_string(z.size()));
  EXPECT_GE(ratio, 50.0) << fp32_bytes << " / " << z.size();
}

TEST(Archive, OpenModelTellsFormatsApartByContent) {
  const Graph g = test::lenet5({});
  const auto dir = std::filesystem::temp_directory_path() / ("stern_archive_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  save_model(g, dir / "m.stern");
  save_archive(g, dir / "m.bin");
  expect_same_model(open_model(dir / "m.stern"), g);
  expect_same_model(open_model(dir / "m.bin"), g);
  expect_same_model(load_archive(dir / "m.bin"), g);
  EXPECT_THROW(load_archive(dir / "m.stern"), Error);
  EXPECT_THROW(open_model(dir / "missing.sternz"), Error);
  std::filesystem::remove_all(dir);
}

// Corruption corpus: every truncation point in the preamble and header, a sample of the rest,
// and byte flips across the file. Each must give one stern::Error line naming the file.
TEST(Archive, CorruptOrTruncatedArchivesGiveOneLineErrors) {
  const auto z = compress_model(test::lenet5({}));
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& what) {
    try {
      load_archive_from_memory(bytes, "bad.sternz");
      ADD_FAILURE() << what << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind("bad.sternz", 0), 0u) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  };
  for (size_t cut = 0; cut < z.size(); cut += (cut < 200 ? 1 : 97))
    expect_error({z.begin(), z.begin() + cut}, "truncation at " + std::to_string(cut));
  for (size_t i = 0; i < z.size(); i += 13) {
    auto bad = z;
    bad[i] ^= 0x01;
    expect_error(bad, "flip at " + std::to_string(i));
  }
  auto longer = z;
  longer.push_back(0);
  expect_error(longer, "trailing byte");
}

}  // namespace
}  // namespace stern
