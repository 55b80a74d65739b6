// .npy reader/writer: round trips, the exact bytes NumPy writes, every dtype we read, strict
// header errors, and files exchanged with NumPy itself when python3 has it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "data/test_files.h"
#include "stern/tensor_io.h"

namespace stern {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;
using testing::run_command;
using testing::ScratchDir;
using testing::write_bytes;

// A version 1.0 file with `dict` as its header (padded as NumPy pads) and `data` after it.
std::vector<uint8_t> npy_file(std::string dict, const std::vector<uint8_t>& data, uint8_t major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, 0};
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(static_cast<uint8_t>(dict.size() >> (8 * i)));
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

template <typename T>
std::vector<uint8_t> raw(const std::vector<T>& values) {
  std::vector<uint8_t> out(values.size() * sizeof(T));
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

std::string parse_error(const std::string& dict, const std::vector<uint8_t>& data) {
  const auto bytes = npy_file(dict, data);
  return error_of([&] { parse_npy(bytes, "x.npy"); });
}

TEST(Npy, RoundTripsEveryRank) {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {5}, {2, 3}, {2, 0, 4}, {1, 2, 3, 4}};
  for (const auto& shape : shapes) {
    FloatTensor t;
    t.shape = shape;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n; ++i) t.data.push_back(0.25f * static_cast<float>(i) - 1.0f);
    const auto bytes = serialize_npy(t);
    const FloatTensor back = parse_npy(bytes, "round trip");
    EXPECT_EQ(back.shape, t.shape);
    EXPECT_EQ(back.data, t.data);
  }
}

TEST(Npy, WritesTheBytesNumPyWrites) {
  FloatTensor t{{2, 3}, {1, 2, 3, 4, 5, 6}};
  const auto bytes = serialize_npy(t);
  ASSERT_EQ(bytes.size(), 128u + 24);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(bytes[8] | (bytes[9] << 8), 118);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_EQ(std::string(bytes.begin() + 10, bytes.begin() + 128),
            dict + std::string(118 - dict.size() - 1, ' ') + "\n");
  EXPECT_EQ(std::memcmp(bytes.data() + 128, t.data.data(), 24), 0);
  const auto one_d = serialize_npy(FloatTensor{{3}, {1, 2, 3}});
  EXPECT_NE(std::string(one_d.begin(), one_d.end()).find("'shape': (3,), }"), std::string::npos);
  const auto scalar = serialize_npy(FloatTensor{{}, {7}});
  EXPECT_NE(std::string(scalar.begin(), scalar.end()).find("'shape': (), }"), std::string::npos);
}

TEST(Npy, ReadsOtherDtypesAsFloat) {
  auto t = parse_npy(npy_file("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
                              raw<double>({0.5, -2.0, 1e-3})), "f8");
  EXPECT_EQ(t.data, std::vector<float>({0.5f, -2.0f, static_cast<float>(1e-3)}));
  t = parse_npy(npy_file("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }",
                         raw<int64_t>({-3, 0, 7, 1 << 20})), "i8");
  EXPECT_EQ(t.shape, std::vector<int64_t>({2, 2}));
  EXPECT_EQ(t.data, std::vector<float>({-3, 0, 7, 1 << 20}));
  t = parse_npy(npy_file("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }",
                         raw<uint8_t>({0, 1, 128, 255})), "u1");
  EXPECT_EQ(t.data, std::vector<float>({0, 1, 128, 255}));
  // Key order and double quotes are not fixed by the format; version 2.0 widens the length.
  t = parse_npy(npy_file("{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"<f4\"}",
                         raw<float>({1.5f, 2.5f}), 2), "v2");
  EXPECT_EQ(t.data, std::vector<float>({1.5f, 2.5f}));
}

TEST(Npy, RejectsBadPrefixes) {
  const std::vector<uint8_t> data = raw<float>({1, 2});
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  auto bytes = npy_file(dict, data);
  bytes[1] = 'X';
  EXPECT_THAT(error_of([&] { parse_npy(bytes, "x.npy"); }),
              AllOf(HasSubstr("x.npy"), HasSubstr("not a .npy file")));
  bytes = npy_file(dict, data);
  bytes[6] = 3;
  EXPECT_THAT(error_of([&] { parse_npy(bytes, "x.npy"); }),
              HasSubstr("npy version 3.0 is not supported, expected 1.0 or 2.0"));
  bytes = npy_file(dict, data);
  bytes.resize(9);
  EXPECT_THAT(error_of([&] { parse_npy(bytes, "x.npy"); }), HasSubstr("truncated"));
  bytes = npy_file(dict, data);
  bytes.resize(40);
  EXPECT_THAT(error_of([&] { parse_npy(bytes, "x.npy"); }),
              HasSubstr("truncated: npy header declares 118 bytes but the file has 30"));
}

TEST(Npy, RejectsBadHeaders) {
  const std::vector<uint8_t> data = raw<float>({1, 2});
  const struct {
    const char* dict;
    const char* error;
  } cases[] = {
      {"{'descr': '<f4', 'shape': (2,), }", "header has no 'fortran_order'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "duplicate key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", "unexpected header key 'x'"},
      {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "fortran_order is True, expected False"},
      {"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "descr '>f4' is not supported"},
      {"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", "descr '<i4' is not supported"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", "shape (2) is not a tuple, expected (2,)"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "shape must be a tuple of non-negative integers"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", "'fortran_order' must be True or False"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", "expected ',' or '}' after the value of 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", "shape too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", "shape dimension overflows"},
  };
  for (const auto& c : cases) {
    EXPECT_THAT(parse_error(c.dict, data), AllOf(HasSubstr("x.npy: npy header: "), HasSubstr(c.error)))
        << c.dict;
  }
  // A header that does not end in '\n'.
  auto bytes = npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", data);
  bytes[127] = ' ';
  EXPECT_THAT(error_of([&] { parse_npy(bytes, "x.npy"); }), HasSubstr("one '\\n'"));
}

TEST(Npy, RejectsDataSizeMismatch) {
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  EXPECT_THAT(parse_error(dict, raw<float>({1, 2, 3, 4, 5})),
              HasSubstr("truncated: shape (2, 3) of <f4 needs 24 data bytes, file has 20"));
  EXPECT_THAT(parse_error(dict, raw<float>({1, 2, 3, 4, 5, 6, 7})),
              HasSubstr("size mismatch: shape (2, 3) of <f4 needs 24 data bytes, file has 28"));
}

TEST(Npy, RejectsInconsistentTensorsOnWrite) {
  EXPECT_THAT(error_of([] { serialize_npy(FloatTensor{{2, 3}, {1, 2}}); }),
              HasSubstr("shape (2, 3) holds 6 values but the tensor has 2"));
  EXPECT_THAT(error_of([] { serialize_npy(FloatTensor{{-1}, {}}); }), HasSubstr("negative dimension -1"));
}

// Every truncation and every single-bit flip of a valid file either parses (a flip in the
// data or the padding) or throws stern::Error: never a crash or an out-of-bounds read (this
// binary also runs under ASan/UBSan).
TEST(Npy, SurvivesEveryTruncationAndBitFlip) {
  const auto valid = serialize_npy(FloatTensor{{2, 3}, {1, 2, 3, 4, 5, 6}});
  for (size_t n = 0; n < valid.size(); ++n) {
    const std::vector<uint8_t> cut(valid.begin(), valid.begin() + n);
    EXPECT_FALSE(error_of([&] { parse_npy(cut, "cut.npy"); }).empty()) << n;
  }
  int parsed = 0;
  for (size_t i = 0; i < valid.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      auto flipped = valid;
      flipped[i] ^= static_cast<uint8_t>(1 << bit);
      try {
        const FloatTensor t = parse_npy(flipped, "flipped.npy");
        EXPECT_EQ(t.data.size(), static_cast<size_t>(t.numel()));
        ++parsed;
      } catch (const Error&) {
      }
    }
  }
  // The 24 data bytes always parse; most header flips must not.
  EXPECT_GE(parsed, 24 * 8);
  EXPECT_LT(parsed, static_cast<int>(valid.size()) * 8 / 2);
}

TEST(Npy, MissingFile) {
  ScratchDir dir;
  EXPECT_THAT(error_of([&] { read_npy(dir / "absent.npy"); }),
              AllOf(HasSubstr("absent.npy"), HasSubstr("file not found")));
}

bool python_has_numpy() { return !run_command("/usr/bin/python3 -c 'import numpy' 2>/dev/null && echo ok").empty(); }

TEST(Npy, ReadsWhatNumPyWrites) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  ScratchDir dir;
  const std::string script =
      "import numpy as np\n"
      "d = '" + dir.path().string() + "'\n"
      "np.save(d + '/f4.npy', np.arange(24, dtype='<f4').reshape(2, 3, 4) / 8)\n"
      "np.save(d + '/f8.npy', np.array([[0.1, -2.5], [3.0, 1e-7]]))\n"
      "np.save(d + '/i8.npy', np.array([-5, 0, 9], dtype='<i8'))\n"
      "np.save(d + '/u1.npy', np.array([[0, 255], [17, 3]], dtype=np.uint8))\n"
      "np.save(d + '/scalar.npy', np.float32(2.5))\n"
      "np.save(d + '/fortran.npy', np.asfortranarray(np.ones((2, 3), dtype='<f4')))\n";
  testing::write_text(dir / "make.py", script);
  ASSERT_FALSE(run_command("/usr/bin/python3 " + (dir / "make.py").string() + " && echo ok").empty());

  FloatTensor t = read_npy(dir / "f4.npy");
  EXPECT_EQ(t.shape, std::vector<int64_t>({2, 3, 4}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(t.data[i], i / 8.0f);
  t = read_npy(dir / "f8.npy");
  EXPECT_EQ(t.data, std::vector<float>({0.1f, -2.5f, 3.0f, 1e-7f}));
  EXPECT_EQ(read_npy(dir / "i8.npy").data, std::vector<float>({-5, 0, 9}));
  t = read_npy(dir / "u1.npy");
  EXPECT_EQ(t.shape, std::vector<int64_t>({2, 2}));
  EXPECT_EQ(t.data, std::vector<float>({0, 255, 17, 3}));
  t = read_npy(dir / "scalar.npy");
  EXPECT_TRUE(t.shape.empty());
  EXPECT_EQ(t.data, std::vector<float>({2.5f}));
  EXPECT_THAT(error_of([&] { read_npy(dir / "fortran.npy"); }), HasSubstr("fortran_order is True"));
}

TEST(Npy, NumPyReadsWhatWeWrite) {
  if (!python_has_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy not available";
  ScratchDir dir;
  FloatTensor t{{3, 2}, {0.5f, -1.0f, 3.25f, 1e-6f, -0.0f, 42.0f}};
  write_npy(dir / "ours.npy", t);
  const std::string out = run_command(
      "/usr/bin/python3 -c \"import numpy as np; a = np.load('" + (dir / "ours.npy").string() +
      "'); print(a.dtype, a.shape, a.flags['C_CONTIGUOUS'], ' '.join(repr(float(v)) for v in a.ravel()))\"");
  EXPECT_EQ(out, "float32 (3, 2) True 0.5 -1.0 3.25 9.999999974752427e-07 -0.0 42.0\n");
}

}  // namespace
}  // namespace stern
