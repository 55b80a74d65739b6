// Signed-binary and binary layers on the CPU. Both reduce to one integer product over a
// {0,1} weight bitmap,
//   C[m][n] = sum_k bit[n][k] * x[m][k]      (uint8 activations, int32 accumulation),
// plus a float epilogue per filter n and activation row m:
//   signed-binary  w = s_n * alpha_n * bit           -> y = a_scale * s_n * alpha_n * C
//   binary         w = bit ? alpha+ : -alpha-         -> y = a_scale * ((alpha+ + alpha-) * C
//                                                                        - alpha- * sum_k x)
// int8 activations are offset to uint8 (x + 128) and corrected by -128 * popcount(row n), so
// every kernel sees uint8 only. Columns are limited to kMaxCols: 255 * 2^23 < 2^31, so the
// int32 accumulators cannot overflow for any supported K.
//
// Two methods, one file per method and ISA; tests/kernels/test_signed_binary.cpp checks
// every one against the integer product computed from the unpacked codes:
//   bitmap  dense masked adds over the bitmap, tile MR rows x NR filters
//     signed_binary_gemm_4x4__scalar.cpp      (walks the set bits; the portable reference)
//     signed_binary_gemm_4x2__avx2.cpp        (bits expanded to byte masks, vpsadbw)
//     signed_binary_gemm_8x32__avx512vnni.cpp (panel layout: bits expanded to 0/1 bytes,
//                                              broadcast rows, vpdpbusd)
//   lut     per-activation-group lookup tables (T-MAC style; the sharing of SumMerge): for a
//           block of LANES activation rows and each group of 4 columns, the 15 non-empty
//           subset sums are built once, as vectors over the rows; every filter then adds one
//           table row per non-zero 4-bit pattern and skips all-zero groups, so the work per
//           filter falls with sparsity and a pattern shared by many filters is summed once.
//     signed_binary_lut_8x1__scalar.cpp  signed_binary_lut_16x1__avx2.cpp
//     signed_binary_lut_32x1__avx512.cpp
// Binary weights with binary activations use XNOR-popcount instead (binary/binary_xnor.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "stern/cpu_features.h"
#include "stern/encoding.h"

namespace stern::sbin {

inline constexpr int64_t kMaxCols = int64_t{1} << 23;
// lut: columns per table group, and columns per chunk. A chunk is summed in uint16 lanes
// before widening to int32: 255 * 256 < 2^16. The chunk's tables (64 groups * 15 rows *
// 64 bytes = 60 KiB at 32 lanes) spill from L1 to L2; measured on Zen 4, 256 columns beat
// 128 and 64 (whose tables fit L1) because the per-filter widening is paid half or a quarter
// as often, and beat tables for all chunks at once (sums kept in registers), 1.7x slower.
inline constexpr int64_t kLutGroupCols = 4;
inline constexpr int64_t kLutChunkCols = 256;
inline constexpr int64_t kLutGroupsPerChunk = kLutChunkCols / kLutGroupCols;

// Row-major bitmap: column c of row r is bit c % 64 of bits[r * words + c / 64]; the
// padding bits of each row's last word are zero.
struct Bitmap {
  int64_t rows = 0, cols = 0, words = 0;
  std::vector<uint64_t> bits;
  std::vector<int32_t> ones;   // set bits per row
  double nonzero_groups = 0;   // fraction of 4-column groups with a set bit (lut work)
};

// Table entries for the lut method: for chunk h and filter n, the entries
// entries[start[h * rows + n] .. start[h * rows + n + 1]) are lut_entry(lut_row(group in
// chunk, pattern)) for every group whose 4-bit pattern is non-zero, padded with the zero row
// (kLutZeroRow, after the groups' rows) to a non-zero multiple of kLutStep entries; the last
// entry of each filter has kLutLast set. The widest kernel then walks all filters of a chunk
// as one loop of 4-entry steps without a branch per filter (a filter's trip count is random,
// and its mispredicted loop exits cost more than the padding: about 1.5 zero-row adds per
// filter and chunk at 69% sparsity, 3% of the lookups).
// A group has 15 rows (pattern 0 needs none): besides saving a row, an odd stride spreads
// the rows of one pattern over all L1 sets; with 16 rows (1 KiB apart) a layer whose filters
// all use pattern 15 thrashed 4 sets and ran 2x slower.
inline constexpr int64_t kLutRowsPerGroup = 15;
inline constexpr size_t lut_row(size_t group, unsigned pattern) {
  return group * kLutRowsPerGroup + pattern - 1;
}
inline constexpr size_t kLutZeroRow = size_t(kLutGroupsPerChunk * kLutRowsPerGroup);
inline constexpr size_t kLutStep = 4;
inline constexpr uint16_t kLutLast = 0x8000;
// entry = row * 8: a 64-byte row (32 uint16 lanes) is at byte entry * 8, one scaled-index
// address in the widest kernel; narrower kernels divide by kLutEntryPerRow.
inline constexpr unsigned kLutEntryPerRow = 8;
inline constexpr uint16_t lut_entry(size_t row) { return uint16_t(row * kLutEntryPerRow); }
static_assert(kLutZeroRow * kLutEntryPerRow < kLutLast, "entries must leave the flag bit free");
struct LutLayout {
  int64_t chunks = 0;
  std::vector<uint16_t> entries;
  std::vector<uint64_t> start;  // chunks * rows + 1
};
LutLayout build_lut_layout(const Bitmap& b);

// Checks what every bitmap layer needs: a non-empty rows x cols matrix, cols <= kMaxCols,
// one scale per output channel (group == cols). Throws stern::Error naming `where`.
void check_bitmap_matrix(const WeightMatrix& m, const std::string& where);

// Bitmap with bit = bit_of(row, code); bit_of may throw on codes its encoding forbids.
template <typename BitOf>
Bitmap pack_bitmap(const WeightMatrix& m, const std::string& where, BitOf bit_of) {
  check_bitmap_matrix(m, where);
  Bitmap b;
  b.rows = m.rows;
  b.cols = m.cols;
  b.words = (m.cols + 63) / 64;
  b.bits.assign(size_t(b.rows * b.words), 0);
  b.ones.assign(size_t(b.rows), 0);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      if (bit_of(r, m.codes[size_t(r * m.cols + c)])) {
        b.bits[size_t(r * b.words + c / 64)] |= uint64_t{1} << (c % 64);
        ++b.ones[size_t(r)];
      }
  int64_t nonzero = 0;
  for (uint64_t word : b.bits)
    for (int q = 0; q < 16; ++q) nonzero += (word >> (4 * q)) & 0xF ? 1 : 0;
  b.nonzero_groups = double(nonzero) / double(b.rows * ((b.cols + 3) / 4));
  return b;
}

// Panel layout of a Bitmap for kernels that broadcast activations (VPDPBUSD order): panel p
// holds filters 16p .. 16p + 15; word q of a panel (16 * words per panel) has bit 4f + t set
// when filter 16p + f has column 4q + t. Filters past `rows` are zero.
std::vector<uint64_t> build_panels(const Bitmap& b);

// Micro-kernels read activation rows as uint8 with at least 64 * words readable bytes.
// bitmap: c[r * ldc + j] = product of activation row r < mr and filter j < nr. Filter j's
// bitmap is w + j * words (row layout), or w points at its first panel (panel layout).
using BitmapUkernel = void (*)(const uint8_t* a, size_t lda, size_t mr, const uint64_t* w,
                               size_t words, size_t nr, int32_t* c, size_t ldc);
// lut: c[r * ldc + (n - n0)] for rows r < `rows` (<= lanes) and filters n0 <= n < n1.
// scratch: lut_scratch_bytes(lanes, n1 - n0) bytes, 64-byte aligned: the tables (their
// last row, kLutZeroRow, is zeroed by the kernel), then per filter int32 and uint16 sums.
using LutUkernel = void (*)(const uint8_t* a, size_t lda, size_t rows, const Bitmap& w,
                            const LutLayout& lut, size_t n0, size_t n1, int32_t* c,
                            size_t ldc, void* scratch);

struct BitmapConfig {
  Isa isa;
  const char* name;
  size_t mr, nr;
  bool panels;  // reads the panel layout; nr is then a multiple of 16
  BitmapUkernel ukernel;
};
struct LutConfig {
  Isa isa;
  const char* name;
  size_t lanes;
  LutUkernel ukernel;
};
// Every compiled micro-kernel, scalar first (tests and benchmarks walk these).
std::span<const BitmapConfig> bitmap_configs();
std::span<const LutConfig> lut_configs();
// The fastest configuration the CPU supports at or below `isa`.
const BitmapConfig& bitmap_config_for(Isa isa);
const LutConfig& lut_config_for(Isa isa);
size_t lut_scratch_bytes(size_t lanes, size_t filters);

enum class Method { bitmap, lut };
const char* method_name(Method m);

// A signed-binary or binary layer's weights in run-time form.
struct BitmapWeights {
  Bitmap bits;
  std::vector<uint64_t> panels;  // built by prepare()
  LutLayout lut;                 // built by prepare(); empty for the bitmap method
  // Double: the binary form subtracts two large terms; alpha+ + alpha- is exact in double.
  std::vector<double> coef_bits;  // per filter: multiplies C
  std::vector<double> coef_sum;   // per filter: multiplies sum_k x (0 for signed-binary)
};

// Canonical matrix -> run-time form. Needs one scale per output channel (group == cols)
// and cols <= kMaxCols; signed_binary rows must be single-signed with codes in {-1, 0, 1},
// binary codes in {-1, 1}. Violations throw stern::Error naming `where`.
BitmapWeights pack_signed_binary(const WeightMatrix& m, const std::string& where);
BitmapWeights pack_binary(const WeightMatrix& m, const std::string& where);

// The faster method for `rows` activation rows, from a cost model fitted to bench_binary on
// Zen 4 (docs/KERNELS.md), in cycles per group of 4 columns and block of 32 rows:
//   bitmap = 2 N (one vpdpbusd per 16 filters x 4 columns x 1 row)
//   lut    = 60 (table build) + N (1.5 * non-empty group fraction + 0.2)
// and bitmap whenever the rows do not fill one lut block (the tables would not pay back).
// Within a lut call, a partial last block of r rows stays on lut only if a full block's lut
// cost is below bitmap's on r rows; otherwise the bitmap kernel takes those rows.
Method choose_method(const Bitmap& w, int64_t rows, Isa isa);
// Builds the layouts `method` needs (panels always, the lut layout for lut); call once at
// load.
void prepare(BitmapWeights& w, Method method);

// Quantized activations: `rows` rows of `cols` values (uint8, or int8 when is_signed), row m
// at data + m * ld; the value of a code q is q * scale.
struct QuantizedRows {
  const void* data = nullptr;
  int64_t rows = 0, cols = 0, ld = 0;
  bool is_signed = false;
  float scale = 1;
};

// y[m * ldy + n] = epilogue(C[m][n]) + bias[n] (bias may be null), then ReLU if `relu`, for
// rows [m0, m1) and filters [n0, n1): callers split one product across threads by range.
void gemm(const BitmapWeights& w, Method method, Isa isa, const QuantizedRows& a,
          const float* bias, bool relu, float* y, int64_t ldy, int64_t m0, int64_t m1,
          int64_t n0, int64_t n1);

}  // namespace stern::sbin
