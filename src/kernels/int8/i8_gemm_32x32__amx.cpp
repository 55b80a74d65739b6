// int8 GEMM on AMX tiles (int8/amx_tiles.h, grid blocking): 32 rows x 2 panels, A tiles read
// straight from the activation rows (16 rows at stride lda), so AMX needs no layout of its
// own and its sums are the VNNI kernel's, bit for bit. Reference: i8_gemm_4x16__scalar.cpp.
#include "kernels/int8/amx_tiles.h"

namespace stern::kernels {

void i8_gemm_32x32__amx(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,
                        size_t panel_stride, size_t npanels, int32_t* c, size_t ldc) {
  amx::gemm<amx::Blocking::grid>(m, kblocks, [a](size_t k) { return a + k; }, lda, {}, w, panel_stride, npanels, c,
                                 ldc);
}

}  // namespace stern::kernels
