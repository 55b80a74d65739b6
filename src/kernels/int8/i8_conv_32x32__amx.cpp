// Implicit-im2col int8 GEMM on AMX tiles (int8/amx_tiles.h; rows3 or grid blocking, below)
// for stride-1 convolutions: the A tile of up to 16 output pixels (igemm.h ConvUkernel's row
// tiles) is that many rows of the padded NHWC image at stride lda (its channels),
// at the column block's offset koff[k / 16]: no im2col rows are built, and the tiles read a
// 73 KiB image instead of 451 KiB of rows (3x3 256->256 at 14x14). A TDPBUSD step covers 64
// columns when every step's four blocks are contiguous in the image (channels a multiple of
// 64), else 48, 32 or 16 (kStepChoices, below).
// Reference: i8_conv_4x16__scalar.cpp.
#include "kernels/int8/amx_tiles.h"

namespace stern::kernels {
namespace {

// Whether each run of step / 16 blocks (the last one possibly shorter) is contiguous.
// A TDPBUSD costs about the same at any depth (Sapphire Rapids, rows3 loop, 16 rows: 6.5-6.8
// ns at 64 columns, 5.6 at 48, 5.3 at 32 and 16): the widest step whose runs are contiguous.
// 48 fits 3x3 kernels on 16, 32, 48 or 96 channels (a kernel row's 3 taps are contiguous in
// NHWC): 3x3 16->16 at 28x28 9 -> 3 TDPBUSD per tile and panel.
constexpr size_t kStepChoices[] = {64, 48, 32, 16};

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
  size_t step = kStepChoices[0];
  for (const size_t s : kStepChoices)
    if (contiguous(koff, kblocks, s)) {
      step = s;
      break;
    }
  const amx::RowTiles tiles{tile_rows, tile_pitch};
  const auto by = [&]<amx::Blocking kB>() {
    amx::gemm<kB>(m, kblocks, [a, koff](size_t k) { return a + koff[k / kKBlock]; }, lda, tiles, w, panel_stride,
                  npanels, c, ldc, step);
  };
  if (rows3(kblocks))
    by.template operator()<amx::Blocking::rows3>();
  else
    by.template operator()<amx::Blocking::grid>();
}

}  // namespace stern::kernels
