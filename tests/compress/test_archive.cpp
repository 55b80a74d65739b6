// .sternz archive: exact round trips for every encoding (checked against the container's own
// serialization), the size targets of docs/COMPRESSION.md, and a corruption corpus.
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cmath>
#include <filesystem>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <nlohmann/json.hpp>

#include "compress/lenet5.h"
#include "stern/archive.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/model_io.h"
#include "stern/runtime.h"

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

TEST(Archive, FiltersOfDifferentDensityGetTheirOwnTables) {
  for (Encoding e : {Encoding::ternary2, Encoding::ternary_sparse, Encoding::signed_binary}) {
    Lenet5Options o;
    o.encoding = e;
    o.vary_sparsity_by_row = true;
    const Graph g = test::lenet5(o);
    ArchiveStats stats;
    const auto bytes = compress_model(g, &stats);
    expect_same_model(load_archive_from_memory(bytes, "m.sternz"), g);
    for (const auto& t : stats.tensors) {
      if (t.name != "fc1.weight") continue;
      EXPECT_GT(t.tables, 1) << encoding_traits(e).name;
      EXPECT_LT(8.0 * double(t.coded_bytes), 0.9 * t.entropy_bits) << encoding_traits(e).name;
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

// The runtime runs what load_archive returns: same outputs as the original container, on the
// integer kernels and on the scalar reference path.
TEST(Archive, RuntimeRunsTheDecodedModel) {
  const Graph g = test::lenet5({});
  const Graph z = load_archive_from_memory(compress_model(g), "m.sternz");
  FloatTensor x{{2, 1, 28, 28}, std::vector<float>(2 * 28 * 28)};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : x.data) v = u(rng);
  for (const bool reference : {false, true}) {
    SessionOptions options;
    options.threads = 1;
    options.reference_only = reference;
    Session original(g, options), decoded(z, options);
    const auto a = original.run({x}), b = decoded.run({x});
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    EXPECT_EQ(a[0].shape, b[0].shape);
    EXPECT_EQ(a[0].data, b[0].data);
  }
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
  EXPECT_THROW(load_archive(dir / "missing.sternz"), Error);
  EXPECT_THROW(load_archive(dir), Error);  // a directory
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

// An independent reader/writer of the documented layout (docs/COMPRESSION.md), so tests can
// produce archives that are well-formed and correctly checksummed but semantically broken.
struct Parts {
  nlohmann::json header;
  std::vector<std::vector<uint8_t>> streams;
};

template <typename T>
T read_le(const std::vector<uint8_t>& b, size_t at) {
  T v;
  std::memcpy(&v, b.data() + at, sizeof v);
  return v;
}

Parts split_archive(const std::vector<uint8_t>& z) {
  const auto hb = read_le<uint64_t>(z, 16), raw = read_le<uint64_t>(z, 24);
  std::string text(raw, '\0');
  EXPECT_EQ(ZSTD_decompress(text.data(), raw, z.data() + 36, hb), raw);
  Parts p{nlohmann::json::parse(text), {}};
  size_t n_streams = 1;
  for (const auto& t : p.header["tensors"]) n_streams += t["kind"] != "floats";
  size_t at = 36 + hb;
  std::vector<uint64_t> sizes;
  for (size_t k = 0; k < n_streams; ++k) {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      v |= uint64_t(z[at] & 0x7f) << shift;
      if (!(z[at++] & 0x80)) break;
    }
    sizes.push_back(v);
    at += 4;
  }
  for (const uint64_t n : sizes) {
    p.streams.emplace_back(z.begin() + at, z.begin() + at + n);
    at += n;
  }
  return p;
}

std::vector<uint8_t> join_archive(const Parts& p, const std::vector<uint8_t>& like) {
  const std::string text = p.header.dump();
  std::vector<uint8_t> zh(ZSTD_compressBound(text.size()));
  zh.resize(ZSTD_compress(zh.data(), zh.size(), text.data(), text.size(), 3));
  std::vector<uint8_t> out(like.begin(), like.begin() + 32);
  const uint64_t hb = zh.size(), raw = text.size();
  std::memcpy(out.data() + 16, &hb, 8);
  std::memcpy(out.data() + 24, &raw, 8);
  uint32_t crc = uint32_t(crc32(crc32(0, out.data(), 32), zh.data(), uInt(zh.size())));
  out.insert(out.end(), reinterpret_cast<uint8_t*>(&crc), reinterpret_cast<uint8_t*>(&crc) + 4);
  out.insert(out.end(), zh.begin(), zh.end());
  for (const auto& s : p.streams) {
    for (uint64_t v = s.size();; v >>= 7) {
      out.push_back(uint8_t(v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
      if (v < 0x80) break;
    }
    const uint32_t c = uint32_t(crc32(0, s.data(), uInt(s.size())));
    out.insert(out.end(), reinterpret_cast<const uint8_t*>(&c), reinterpret_cast<const uint8_t*>(&c) + 4);
  }
  for (const auto& s : p.streams) out.insert(out.end(), s.begin(), s.end());
  return out;
}

TEST(Archive, IndependentLayoutReaderRoundTrips) {
  const auto z = compress_model(test::lenet5({}));
  expect_same_model(load_archive_from_memory(join_archive(split_archive(z), z), "m.sternz"), test::lenet5({}));
}

// Checksums intact, meaning broken: every case must be one clean error, and none may allocate
// what the archive merely claims (the decompression-bomb cases).
TEST(Archive, SemanticallyBrokenArchivesAreRejected) {
  const auto z = compress_model(test::lenet5({}));
  using Edit = std::function<void(Parts&)>;
  auto fc1 = [](Parts& p) -> nlohmann::json& { return p.header["tensors"][4]; };
  const std::vector<std::pair<std::string, Edit>> cases = {
      {"freq short", [&](Parts& p) { fc1(p)["freq"] = {100, 32668}; }},
      {"three tables", [&](Parts& p) { fc1(p)["freq"] = {fc1(p)["freq"], fc1(p)["freq"], fc1(p)["freq"]}; }},
      {"two tables, no row ids", [&](Parts& p) { fc1(p)["freq"] = {fc1(p)["freq"], fc1(p)["freq"]}; }},
      {"freq sum", [&](Parts& p) { fc1(p)["freq"][1] = 31000; }},
      {"freq negative", [&](Parts& p) { fc1(p)["freq"][0] = -5; }},
      {"freq drops a symbol", [&](Parts& p) { fc1(p)["freq"] = {0, 32768 - 800, 800}; }},
      {"shape zero", [&](Parts& p) { fc1(p)["shape"] = {0, 400}; }},
      {"shape swapped", [&](Parts& p) { fc1(p)["shape"] = {400, 120}; }},
      {"bomb", [&](Parts& p) {
         fc1(p)["shape"] = {2147483647, 2147483647};
         fc1(p)["freq"] = {0, 32768, 0};
         p.streams[3].clear();
       }},
      {"bomb under the element cap", [&](Parts& p) {
         fc1(p)["shape"] = {int64_t{1} << 20, int64_t{1} << 19};
         fc1(p)["freq"] = {0, 32768, 0};
         p.streams[3].clear();
       }},
      {"bomb raw", [&](Parts& p) {
         fc1(p) = {{"name", "fc1.weight"}, {"encoding", 2}, {"shape", {120, 400}}, {"kind", "raw"}, {"raw_bytes", int64_t{1} << 40}};
       }},
      {"group zero", [&](Parts& p) { fc1(p)["group"] = 0; }},
      {"group wide", [&](Parts& p) { fc1(p)["group"] = 401; }},
      {"asymmetric type", [&](Parts& p) { fc1(p)["asymmetric"] = 1; }},
      {"asymmetric scales missing", [&](Parts& p) { fc1(p)["asymmetric"] = true; }},
      {"kind", [&](Parts& p) { fc1(p)["kind"] = "lz77"; }},
      {"encoding", [&](Parts& p) { fc1(p)["encoding"] = 99; }},
      {"f32 as rans", [&](Parts& p) { fc1(p)["encoding"] = 0; }},
      {"float bytes", [&](Parts& p) { p.header["float_bytes"] = p.header["float_bytes"].get<int64_t>() + 4; }},
      {"tensor missing", [&](Parts& p) { p.header["tensors"].erase(5); }},
      {"extra stream", [&](Parts& p) { p.streams.push_back({1, 2, 3}); }},
      {"stream bits", [&](Parts& p) { p.streams[3][100] ^= 0x40; }},
      {"stream short", [&](Parts& p) { p.streams[3].resize(p.streams[3].size() - 2); }},
      {"op", [&](Parts& p) { p.header["graph"]["nodes"][0]["op"] = "conv3d"; }},
      {"attr type", [&](Parts& p) { p.header["graph"]["nodes"][0]["attrs"]["pads"] = {{"x", 1}}; }},
      {"attr wrong kind", [&](Parts& p) { p.header["graph"]["nodes"][0]["attrs"]["pads"] = {{"s", "2"}}; }},
      {"graph input", [&](Parts& p) { p.header["graph"]["nodes"][0]["in"][0] = "nothing"; }},
      {"name type", [&](Parts& p) { fc1(p)["name"] = 7; }},
      {"header not object", [&](Parts& p) { p.header = nlohmann::json::array(); }},
  };
  for (const auto& [what, edit] : cases) {
    Parts p = split_archive(z);
    edit(p);
    try {
      load_archive_from_memory(join_archive(p, z), "bad.sternz");
      ADD_FAILURE() << what << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).rfind("bad.sternz", 0), 0u) << what << ": " << e.what();
    }
  }
}

// Random damage behind valid checksums (what a fuzzer would need many runs to reach): every
// stream byte flip must end in a clean error or, at worst, a model that still validates. Under
// the sanitizer build this is the check that the decoders never read out of bounds.
TEST(Archive, RandomDamageBehindValidChecksums) {
  for (Encoding e : {Encoding::ternary2, Encoding::signed_binary, Encoding::i8}) {
    Lenet5Options o;
    o.encoding = e;
    o.vary_sparsity_by_row = e != Encoding::i8;
    const auto z = compress_model(test::lenet5(o));
    const Parts clean = split_archive(z);
    std::mt19937 rng(11);
    for (int trial = 0; trial < 150; ++trial) {
      Parts p = clean;
      auto& s = p.streams[1 + rng() % (p.streams.size() - 1)];
      if (s.empty()) continue;
      s[rng() % s.size()] ^= uint8_t(1u << (rng() % 8));
      try {
        validate_graph(load_archive_from_memory(join_archive(p, z), "bad.sternz"), "reloaded");
      } catch (const Error& err) {
        EXPECT_EQ(std::string(err.what()).find('\n'), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace stern
