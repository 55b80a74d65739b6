// Implicit-im2col int8 GEMM on AMX tiles (int8/amx_tiles.h) for stride-1 convolutions: the A
// tile of 16 output pixels and 64 columns is 16 rows of the padded NHWC image at stride lda
// (its channels), at the column block's offset koff[k / 16]: no im2col rows are built, and
// the tiles read a 73 KiB image instead of 451 KiB of rows (3x3 256->256 at 14x14). Needs the
// four blocks of every whole 64-column step contiguous (koff[4j + q] = koff[4j] + 16 q: the
// channels a multiple of 64). Reference: i8_conv_4x16__scalar.cpp.
#include "kernels/int8/amx_tiles.h"

namespace stern::kernels {

void i8_conv_32x32__amx(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const int32_t* koff,
                        const uint8_t* w, size_t panel_stride, size_t npanels, int32_t* c, size_t ldc) {
  amx::gemm(m, kblocks, [a, koff](size_t k) { return a + koff[k / kKBlock]; }, lda, w, panel_stride, npanels,
            c, ldc);
}

}  // namespace stern::kernels
