// Layouts, the kernel table and the driver of bitmap_gemm.h. The driver is the only place
// that picks a micro-kernel; the micro-kernels never see int8, odd K or the epilogue.
#include "kernels/signed_binary/bitmap_gemm.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <memory>
#include <type_traits>

#include "kernels/igemm.h"
#include "stern/error.h"

namespace stern::sbin {

void signed_binary_gemm_4x4__scalar(const uint8_t*, size_t, size_t, const uint64_t*, size_t,
                                    size_t, int32_t*, size_t);
void signed_binary_gemm_4x2__avx2(const uint8_t*, size_t, size_t, const uint64_t*, size_t,
                                  size_t, int32_t*, size_t);
void signed_binary_gemm_8x32__avx512vnni(const uint8_t*, size_t, size_t, const uint64_t*,
                                         size_t, size_t, int32_t*, size_t);
void signed_binary_lut_8x1__scalar(const uint8_t*, size_t, size_t, const Bitmap&,
                                   const LutLayout&, size_t, size_t, int32_t*, size_t, void*);
void signed_binary_lut_16x1__avx2(const uint8_t*, size_t, size_t, const Bitmap&,
                                  const LutLayout&, size_t, size_t, int32_t*, size_t, void*);
void signed_binary_lut_32x1__avx512(const uint8_t*, size_t, size_t, const Bitmap&,
                                    const LutLayout&, size_t, size_t, int32_t*, size_t, void*);

namespace {

constexpr BitmapConfig kBitmapConfigs[] = {
    {Isa::scalar, "signed_binary_gemm_4x4__scalar", 4, 4, false, signed_binary_gemm_4x4__scalar},
    {Isa::avx2, "signed_binary_gemm_4x2__avx2", 4, 2, false, signed_binary_gemm_4x2__avx2},
    {Isa::avx512_vnni, "signed_binary_gemm_8x32__avx512vnni", 8, 32, true,
     signed_binary_gemm_8x32__avx512vnni},
};
constexpr LutConfig kLutConfigs[] = {
    {Isa::scalar, "signed_binary_lut_8x1__scalar", 8, signed_binary_lut_8x1__scalar},
    {Isa::avx2, "signed_binary_lut_16x1__avx2", 16, signed_binary_lut_16x1__avx2},
    {Isa::avx512, "signed_binary_lut_32x1__avx512", 32, signed_binary_lut_32x1__avx512},
};

template <typename Config>
const Config& best_config(std::span<const Config> configs, Isa isa) {
  const Config* best = &configs.front();
  for (const Config& c : configs)
    if (c.isa <= isa && cpu_features().supports(c.isa)) best = &c;
  return *best;
}

std::string row_name(int64_t r) { return "row " + std::to_string(r); }

}  // namespace

void check_bitmap_matrix(const WeightMatrix& m, const std::string& where) {
  if (m.rows <= 0 || m.cols <= 0 || m.codes.size() != size_t(m.rows * m.cols))
    fail(where, "weight matrix is " + std::to_string(m.rows) + " x " + std::to_string(m.cols) +
                    " with " + std::to_string(m.codes.size()) + " codes, expected a non-empty rows x cols");
  if (m.cols > kMaxCols)
    fail(where, std::to_string(m.cols) + " columns exceed the int32 accumulation bound of " +
                    std::to_string(kMaxCols));
  if (m.group != m.cols || m.scale_pos.size() != size_t(m.rows) ||
      m.scale_neg.size() != size_t(m.rows))
    fail(where, "bitmap kernels need one scale per output channel (group == cols = " +
                    std::to_string(m.cols) + "), got group " + std::to_string(m.group));
}

std::span<const BitmapConfig> bitmap_configs() { return kBitmapConfigs; }
std::span<const LutConfig> lut_configs() { return kLutConfigs; }
const BitmapConfig& bitmap_config_for(Isa isa) {
  return best_config(std::span<const BitmapConfig>(kBitmapConfigs), isa);
}
const LutConfig& lut_config_for(Isa isa) {
  return best_config(std::span<const LutConfig>(kLutConfigs), isa);
}

size_t lut_scratch_bytes(size_t lanes, size_t filters) {
  return (kLutZeroRow + 1) * lanes * sizeof(uint16_t) +
         filters * lanes * (sizeof(int32_t) + sizeof(uint16_t));
}

const char* method_name(Method m) { return m == Method::lut ? "lut" : "bitmap"; }

LutLayout build_lut_layout(const Bitmap& b) {
  LutLayout lut;
  lut.chunks = (b.cols + kLutChunkCols - 1) / kLutChunkCols;
  lut.start.reserve(size_t(lut.chunks * b.rows + 1));
  lut.start.push_back(0);
  for (int64_t h = 0; h < lut.chunks; ++h) {
    const int64_t groups =
        std::min(kLutGroupsPerChunk, (b.cols - h * kLutChunkCols + kLutGroupCols - 1) / kLutGroupCols);
    for (int64_t n = 0; n < b.rows; ++n) {
      for (int64_t g = 0; g < groups; ++g) {
        const int64_t col = h * kLutChunkCols + g * kLutGroupCols;
        const unsigned pattern = (b.bits[n * b.words + col / 64] >> (col % 64)) & 0xF;
        if (pattern) lut.entries.push_back(lut_entry(lut_row(size_t(g), pattern)));
      }
      const size_t begin = lut.start.back();
      while (lut.entries.size() == begin || (lut.entries.size() - begin) % kLutStep != 0)
        lut.entries.push_back(lut_entry(kLutZeroRow));
      lut.entries.back() |= kLutLast;
      lut.start.push_back(lut.entries.size());
    }
  }
  return lut;
}

std::vector<uint64_t> build_panels(const Bitmap& b) {
  const int64_t quads = 16 * b.words, panels = (b.rows + 15) / 16;
  std::vector<uint64_t> out(size_t(panels * quads), 0);
  for (int64_t n = 0; n < b.rows; ++n)
    for (int64_t k = 0; k < b.cols; ++k)
      if ((b.bits[size_t(n * b.words + k / 64)] >> (k % 64)) & 1)
        out[size_t((n / 16) * quads + k / 4)] |= uint64_t{1} << (4 * (n % 16) + k % 4);
  return out;
}

BitmapWeights pack_signed_binary(const WeightMatrix& m, const std::string& where) {
  std::vector<int8_t> sign(size_t(std::max<int64_t>(m.rows, 0)), 0);
  BitmapWeights w;
  w.bits = pack_bitmap(m, where, [&](int64_t r, int8_t code) {
    if (code < -1 || code > 1)
      fail(where, row_name(r) + " has code " + std::to_string(code) + ", expected -1, 0 or 1");
    if (code != 0 && sign[r] != 0 && code != sign[r])
      fail(where, row_name(r) + " mixes +1 and -1, expected one sign per filter");
    if (code != 0) sign[r] = code;
    return code != 0;
  });
  for (int64_t r = 0; r < m.rows; ++r) {
    w.coef_bits.push_back(sign[r] < 0 ? -m.scale_neg[r] : m.scale_pos[r]);
    w.coef_sum.push_back(0);
  }
  return w;
}

namespace {
// Cost of one lut block relative to the bitmap kernel on as many rows (the model of
// choose_method in bitmap_gemm.h).
double lut_cost_ratio(const Bitmap& w) {
  const double n = double(w.rows);
  return (60 + n * (1.5 * w.nonzero_groups + 0.2)) / (2 * n);
}
}  // namespace

Method choose_method(const Bitmap& w, int64_t rows, Isa isa) {
  if (rows < int64_t(lut_config_for(isa).lanes)) return Method::bitmap;
  return lut_cost_ratio(w) < 1 ? Method::lut : Method::bitmap;
}

void prepare(BitmapWeights& w, Method method) {
  if (w.panels.empty()) w.panels = build_panels(w.bits);
  if (method == Method::lut && w.lut.start.empty()) w.lut = build_lut_layout(w.bits);
}

void gemm(const BitmapWeights& w, Method method, Isa isa, const QuantizedRows& a,
          const float* bias, bool relu, float* y, int64_t ldy, int64_t m0, int64_t m1,
          int64_t n0, int64_t n1) {
  const Bitmap& b = w.bits;
  if (a.cols != b.cols || a.ld < a.cols || !a.data)
    fail("signed_binary gemm", "activations have " + std::to_string(a.cols) +
                                   " columns (row stride " + std::to_string(a.ld) +
                                   "), expected " + std::to_string(b.cols));
  if (m0 < 0 || m0 > m1 || m1 > a.rows || n0 < 0 || n0 > n1 || n1 > b.rows)
    fail("signed_binary gemm", "row range [" + std::to_string(m0) + ", " + std::to_string(m1) +
                                   ") or filter range [" + std::to_string(n0) + ", " +
                                   std::to_string(n1) + ") outside the " +
                                   std::to_string(a.rows) + " x " + std::to_string(b.rows) + " output");
  if (w.panels.empty() || (method == Method::lut && w.lut.start.empty()))
    fail("signed_binary gemm", std::string(method_name(method)) +
                                   " method requested but prepare() was not called for it");
  const int64_t rows = m1 - m0, filters = n1 - n0;
  if (rows == 0 || filters == 0) return;

  // Micro-kernels read 64 * words bytes per row: copy when the rows are shorter, and offset
  // int8 to uint8 on the way.
  const auto* src = static_cast<const uint8_t*>(a.data) + m0 * a.ld;
  const uint8_t* x = src;
  size_t ldx = size_t(a.ld);
  std::vector<uint8_t> copy;
  if (a.is_signed || a.cols % 64 != 0) {
    ldx = size_t(b.words * 64);
    copy.assign(size_t(rows) * ldx, 0);
    // The row copy kernel where no flip is needed: the byte loop (not vectorized at -O2) took
    // 3.5x the micro-kernel's time on a 3x3 16->16 layer at 28x28.
    if (!a.is_signed)
      kernels::best_copy_rows(isa).fn(src, size_t(rows), size_t(a.cols), size_t(a.ld), copy.data(), ldx);
    else
      for (int64_t m = 0; m < rows; ++m)
        for (int64_t k = 0; k < a.cols; ++k) copy[size_t(m) * ldx + size_t(k)] = src[m * a.ld + k] ^ 0x80;
    x = copy.data();
  }
  std::vector<int32_t> row_sum(size_t(rows), 0);
  const bool has_sum =
      std::any_of(w.coef_sum.begin() + n0, w.coef_sum.begin() + n1, [](double c) { return c != 0; });
  // int32 sums: |sum| <= 255 * kMaxCols < 2^31. Separate loops so both vectorize.
  if (has_sum)
    for (int64_t m = 0; m < rows; ++m) {
      int32_t s = 0;
      const uint8_t* row = src + m * a.ld;
      if (a.is_signed)
        for (int64_t k = 0; k < a.cols; ++k) s += int8_t(row[k]);
      else
        for (int64_t k = 0; k < a.cols; ++k) s += row[k];
      row_sum[m] = s;
    }

  std::vector<int32_t> acc(size_t(rows * filters));
  const size_t ldc = size_t(filters);
  // lut covers whole blocks of lanes rows, and a last partial block when it pays; the
  // bitmap kernel takes the rows after that.
  int64_t lut_rows = 0;
  if (method == Method::lut) {
    const LutConfig& cfg = lut_config_for(isa);
    const int64_t lanes = int64_t(cfg.lanes);
    // A partial last block costs a full one: lut only if that beats bitmap on its rows.
    const bool tail = double(rows % lanes) > lut_cost_ratio(b) * double(lanes);
    lut_rows = tail ? rows : rows / lanes * lanes;
    const size_t bytes = (lut_scratch_bytes(cfg.lanes, size_t(filters)) + 63) / 64 * 64;
    std::unique_ptr<void, decltype(&std::free)> scratch(std::aligned_alloc(64, bytes), &std::free);
    for (int64_t m = 0; m < lut_rows; m += lanes)
      cfg.ukernel(x + m * ldx, ldx, size_t(std::min(lanes, lut_rows - m)), b, w.lut, size_t(n0),
                  size_t(n1), acc.data() + m * ldc, ldc, scratch.get());
  }
  if (lut_rows < rows) {
    const BitmapConfig& cfg = bitmap_config_for(isa);
    const int64_t mr = int64_t(cfg.mr), nr = int64_t(cfg.nr);
    // Panel kernels need tiles that start at a panel: when n0 is not a multiple of nr, the
    // tiles go through a buffer and only the columns in [n0, n1) are copied out.
    const bool direct = !cfg.panels || n0 % nr == 0;
    std::vector<int32_t> tile(direct ? 0 : size_t(mr * nr));
    const int64_t first = cfg.panels ? n0 / nr * nr : n0;
    // Rows outer: MR activation rows stay in L1 while the filters' bitmaps stream from L2.
    for (int64_t m = lut_rows; m < rows; m += mr) {
      const int64_t tr = std::min(mr, rows - m);
      for (int64_t n = first; n < n1; n += nr) {
        const uint64_t* wt = cfg.panels ? w.panels.data() + (n / 16) * 16 * b.words
                                        : b.bits.data() + n * b.words;
        const auto* xt = x + m * ldx;
        if (direct) {
          cfg.ukernel(xt, ldx, size_t(tr), wt, size_t(b.words), size_t(std::min(nr, n1 - n)),
                      acc.data() + m * int64_t(ldc) + (n - n0), ldc);
          continue;
        }
        cfg.ukernel(xt, ldx, size_t(tr), wt, size_t(b.words), size_t(std::min(nr, b.rows - n)),
                    tile.data(), size_t(nr));
        for (int64_t i = 0; i < tr; ++i)
          for (int64_t j = std::max(n, n0); j < std::min(n + nr, n1); ++j)
            acc[size_t((m + i) * int64_t(ldc) + (j - n0))] = tile[size_t(i * nr + (j - n))];
      }
    }
  }

  // Epilogue, written so the compiler vectorizes it over filters. Signed-binary and
  // symmetric binary have an exact integer form t = k_c (C - offset) - k_s sum_k x (|t| <=
  // 255 K < 2^24 for K < 65794, so exact in float), then one float multiply-add. Asymmetric
  // binary subtracts two large float terms, so it runs in double.
  std::vector<int32_t> offset(static_cast<size_t>(filters));
  for (int64_t n = n0; n < n1; ++n) offset[size_t(n - n0)] = a.is_signed ? 128 * b.ones[n] : 0;
  std::vector<float> zero_bias;
  if (!bias) zero_bias.assign(size_t(n1), 0.f);
  const float* bn = (bias ? bias : zero_bias.data()) + n0;
  const float floor = relu ? 0.f : -std::numeric_limits<float>::infinity();
  bool symmetric = true;
  for (int64_t n = n0; n < n1; ++n) symmetric &= w.coef_bits[n] == -2 * w.coef_sum[n];
  if (!has_sum || (symmetric && b.cols < 65794)) {
    const int32_t ks = has_sum ? 1 : 0;
    std::vector<float> scale(static_cast<size_t>(filters));
    for (int64_t n = n0; n < n1; ++n)
      scale[size_t(n - n0)] = float(double(a.scale) * (has_sum ? -w.coef_sum[n] : w.coef_bits[n]));
    // kc as a compile-time constant: a run-time one made this loop an SSE2 32-bit multiply
    // emulation, about as slow as the table building of a lut layer.
    const auto rows_out = [&](auto kc) {
      for (int64_t m = 0; m < rows; ++m) {
        const int32_t* c = acc.data() + m * int64_t(ldc);
        float* out = y + (m0 + m) * ldy + n0;
        const int32_t sum = ks * int32_t(row_sum[size_t(m)]);
        for (int64_t j = 0; j < filters; ++j)
          out[j] = std::max(floor, scale[size_t(j)] * float(kc() * (c[j] - offset[size_t(j)]) - sum) + bn[j]);
      }
    };
    if (has_sum)
      rows_out(std::integral_constant<int32_t, 2>{});
    else
      rows_out(std::integral_constant<int32_t, 1>{});
  } else {
    for (int64_t m = 0; m < rows; ++m) {
      const int32_t* c = acc.data() + m * int64_t(ldc);
      float* out = y + (m0 + m) * ldy + n0;
      const double sum = double(row_sum[size_t(m)]);
      for (int64_t j = 0; j < filters; ++j) {
        const double v = double(a.scale) * (w.coef_bits[size_t(n0 + j)] * double(c[j] - offset[size_t(j)]) +
                                            w.coef_sum[size_t(n0 + j)] * sum);
        out[j] = std::max(floor, float(v) + bn[j]);
      }
    }
  }
}

}  // namespace stern::sbin
