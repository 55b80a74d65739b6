// Portable lookup-table kernel, 8 activation rows per table row: the reference for the
// vector lut kernels, same tables and same uint16 chunk sums, in plain loops.
#include <algorithm>

#include "kernels/signed_binary/bitmap_gemm.h"

namespace stern::sbin {

void signed_binary_lut_8x1__scalar(const uint8_t* a, size_t lda, size_t rows, const Bitmap& w,
                                   const LutLayout& lut, size_t n0, size_t n1, int32_t* c,
                                   size_t ldc, void* scratch) {
  constexpr size_t kLanes = 8;
  auto* tables = static_cast<uint16_t(*)[kLanes]>(scratch);  // [lut_row(group, pattern)][lane]
  auto* acc = reinterpret_cast<int32_t(*)[kLanes]>(tables + kLutZeroRow + 1);
  std::fill_n(reinterpret_cast<int32_t*>(acc), (n1 - n0) * kLanes, 0);
  std::fill_n(tables[kLutZeroRow], kLanes, 0);  // the padding entries' row
  const size_t filters = size_t(w.rows);
  for (size_t h = 0; h < size_t(lut.chunks); ++h) {
    const size_t col0 = h * kLutChunkCols;
    const size_t groups = std::min<size_t>(kLutGroupsPerChunk, (size_t(w.cols) - col0 + 3) / 4);
    for (size_t g = 0; g < groups; ++g)
      for (size_t l = 0; l < kLanes; ++l) {
        const uint8_t* x = a + std::min(l, rows - 1) * lda + col0 + 4 * g;
        uint16_t sum[16] = {};  // sum[p] = sum of the columns in pattern p
        for (unsigned p = 1; p < 16; ++p) {
          sum[p] = uint16_t(sum[p & (p - 1)] + x[__builtin_ctz(p)]);
          tables[lut_row(g, p)][l] = sum[p];
        }
      }
    for (size_t n = n0; n < n1; ++n) {
      uint16_t sum[kLanes] = {};
      for (uint64_t e = lut.start[h * filters + n]; e < lut.start[h * filters + n + 1]; ++e)
        for (size_t l = 0; l < kLanes; ++l) {
          const size_t row = (lut.entries[e] & ~kLutLast) / kLutEntryPerRow;
          sum[l] = uint16_t(sum[l] + tables[row][l]);
        }
      for (size_t l = 0; l < kLanes; ++l) acc[n - n0][l] += sum[l];
    }
  }
  for (size_t r = 0; r < rows; ++r)
    for (size_t n = n0; n < n1; ++n) c[r * ldc + (n - n0)] = acc[n - n0][r];
}

}  // namespace stern::sbin
