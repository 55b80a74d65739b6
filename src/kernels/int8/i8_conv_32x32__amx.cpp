// Implicit-im2col int8 GEMM on AMX tiles (int8/amx_tiles.h; rows3 or grid blocking, below)
// for stride-1 convolutions: the A tile of up to 16 output pixels (igemm.h ConvUkernel's row
// tiles) is that many rows of the padded NHWC image at stride lda (its channels),
// at the column block's offset koff[k / 16]: no im2col rows are built, and the tiles read a
// 73 KiB image instead of 451 KiB of rows (3x3 256->256 at 14x14). A TDPBUSD step covers 64
// columns when every step's four blocks are contiguous in the image (channels a multiple of
// 64), else 32 or 16 (32 or 16 channels: one kernel tap per step, 2x or 4x the TDPBUSD of 64-
// column steps, on layers small enough that the rows it saves cost more).
// Reference: i8_conv_4x16__scalar.cpp.
#include "kernels/int8/amx_tiles.h"

namespace stern::kernels {
namespace {

// Whether each run of step / 16 blocks (the last one possibly shorter) is contiguous.
bool contiguous(const int32_t* koff, size_t kblocks, size_t step) {
  const size_t per = step / kKBlock;
  for (size_t b = 0; b < kblocks; ++b)
    if (b % per && koff[b] != koff[b - 1] + int32_t(kKBlock)) return false;
  return true;
}

// The rows3 blocking (amx_tiles.h) reads A once per panel and starts each panel's pass
// with its first loads exposed: it pays when a pass has enough steps and the panel's B
// (16 x K bytes, streamed through L1) leaves the call's A tiles in L1. Measured, 1 thread
// (rows3 / grid, docs/BENCHMARKS.md): K 2304 (3x3 at 256 channels) and 1152 faster; K 576
// (64 channels) and 4608 (512 at 7x7, 72 KiB of B per panel) slower.
bool rows3(size_t kblocks) {
  constexpr size_t kMinCols = 1024, kMaxPanelBytes = 48 << 10;
  return kblocks * kKBlock >= kMinCols && kblocks * kInt8BlockBytes <= kMaxPanelBytes;
}

}  // namespace

void i8_conv_32x32__amx(size_t m, size_t kblocks, const uint8_t* a, size_t lda, size_t tile_rows,
                        size_t tile_pitch, const int32_t* koff, const uint8_t* w, size_t panel_stride,
                        size_t npanels, int32_t* c, size_t ldc) {
  const size_t step = contiguous(koff, kblocks, 64) ? 64 : contiguous(koff, kblocks, 32) ? 32 : 16;
  const amx::RowTiles tiles{tile_rows, tile_pitch};
  const auto by = [&]<amx::Blocking kB>() {
    constexpr size_t per_call = amx::kRowTiles<kB>;
    for (size_t i = 0; i < m; i += per_call * tile_rows) {
      const uint8_t* ai = a + i / tile_rows * tile_pitch * lda;
      amx::gemm<kB>(std::min(per_call * tile_rows, m - i), kblocks,
                    [ai, koff](size_t k) { return ai + koff[k / kKBlock]; }, lda, tiles, w, panel_stride, npanels,
                    c + i * ldc, ldc, step);
    }
  };
  if (rows3(kblocks))
    by.template operator()<amx::Blocking::rows3>();
  else
    by.template operator()<amx::Blocking::grid>();
}

}  // namespace stern::kernels
