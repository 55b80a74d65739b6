// The AMX tile GEMM of the int8 layout, shared by its two entries: i8_gemm_32x32__amx (A from
// im2col rows) and i8_conv_32x32__amx (A straight from a padded NHWC image through a column
// offset table). Only files built with -mamx-tile -mamx-int8 (named __amx) include it.
//
// 32 rows x 2 panels as 2 x 2 accumulator tiles of 16 x 16 int32 (TDPBUSD: uint8 activations
// x int8 weights). B tiles are read straight from the int8 panels (igemm.h: a panel's 64-byte
// quads are the rows of AMX's VNNI-packed B), so the sums are the VNNI kernel's, bit for bit.
// |a * w| <= 255 * 127: K <= 65536 keeps |raw| < 2^31.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "kernels/igemm.h"

namespace stern::kernels::amx {

inline constexpr size_t kTileRows = 16;  // rows of an A or C tile
inline constexpr size_t kStep = 64;      // columns per TDPBUSD at most (64 bytes per A tile row)
inline constexpr size_t kQuad = 64;      // bytes of a B tile row: 16 channels x 4 columns

// LDTILECFG's operand, palette 1.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Tiles: C(r, p) = tmm(2 r + p) for row tile r and panel p, A(r) = tmm(4 + r), B(p) =
// tmm(6 + p); `m` rows (1..32), `step` columns per TDPBUSD (16, 32, 48 or 64). A row tile
// past m keeps 0 rows (unconfigured): the m <= 16 instances never touch it.
inline TileConfig config(size_t m, size_t step) {
  TileConfig t;
  for (size_t r = 0; r < 2 && r * kTileRows < m; ++r) {
    const uint8_t rows = static_cast<uint8_t>(std::min(kTileRows, m - r * kTileRows));
    for (size_t p = 0; p < 2; ++p) t.rows[2 * r + p] = rows, t.colsb[2 * r + p] = kPanel * sizeof(int32_t);
    t.rows[4 + r] = rows, t.colsb[4 + r] = static_cast<uint16_t>(step);
  }
  for (size_t p = 0; p < 2; ++p) t.rows[6 + p] = static_cast<uint8_t>(step / 4), t.colsb[6 + p] = kQuad;
  return t;
}

// Columns [k0, k0 + steps step) of RT row tiles x NP panels into c: added to c's values when
// `accumulate`, else from zero. acol(k): the first row's bytes of columns [k, k + step) (rows
// lda apart). The tile intrinsics take tile numbers as literal tokens (GCC pastes them into
// the assembly), hence the spelled-out cases.
template <size_t RT, size_t NP, typename ACol>
void pass(ACol acol, size_t lda, const uint8_t* w, size_t panel_stride, size_t k0, size_t steps,
          size_t step, bool accumulate, int32_t* c, size_t ldc) {
  const size_t ldcb = ldc * sizeof(int32_t);
  int32_t* c1 = c + kTileRows * ldc;
  if (accumulate) {
    _tile_loadd(0, c, ldcb);
    if constexpr (NP == 2) _tile_loadd(1, c + kPanel, ldcb);
    if constexpr (RT == 2) _tile_loadd(2, c1, ldcb);
    if constexpr (RT == 2 && NP == 2) _tile_loadd(3, c1 + kPanel, ldcb);
  } else {
    _tile_zero(0);
    if constexpr (NP == 2) _tile_zero(1);
    if constexpr (RT == 2) _tile_zero(2);
    if constexpr (RT == 2 && NP == 2) _tile_zero(3);
  }
  for (size_t s = 0, k = k0; s < steps; ++s, k += step) {
    const uint8_t* b = w + k / 4 * kQuad;  // column k starts tile row k / 4 of a panel
    const uint8_t* a = acol(k);
    _tile_loadd(4, a, lda);
    _tile_loadd(6, b, kQuad);
    _tile_dpbusd(0, 4, 6);
    if constexpr (NP == 2) {
      _tile_loadd(7, b + panel_stride, kQuad);
      _tile_dpbusd(1, 4, 7);
    }
    if constexpr (RT == 2) {
      _tile_loadd(5, a + kTileRows * lda, lda);
      _tile_dpbusd(2, 5, 6);
    }
    if constexpr (RT == 2 && NP == 2) _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, c, ldcb);
  if constexpr (NP == 2) _tile_stored(1, c + kPanel, ldcb);
  if constexpr (RT == 2) _tile_stored(2, c1, ldcb);
  if constexpr (RT == 2 && NP == 2) _tile_stored(3, c1 + kPanel, ldcb);
}

// The whole product: m rows (1..32) x npanels panels x kblocks 16-column blocks. Whole steps
// of `step` columns (64, or 32 / 16 when acol's columns are contiguous only that far), then
// the last 16, 32 or 48 columns with a narrower configuration; loading a configuration zeroes
// the tiles, so the first pass's sums go through c.
template <typename ACol>
void gemm(size_t m, size_t kblocks, ACol acol, size_t lda, const uint8_t* w, size_t panel_stride,
          size_t npanels, int32_t* c, size_t ldc, size_t step = kStep) {
  const auto run = [&](size_t k0, size_t steps, size_t step, bool accumulate) {
    const TileConfig cfg = config(m, step);
    _tile_loadconfig(&cfg);
    const auto panels = [&]<size_t RT>(std::integral_constant<size_t, RT>) {
      size_t p = 0;
      for (; p + 2 <= npanels; p += 2)
        pass<RT, 2>(acol, lda, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                    c + p * kPanel, ldc);
      if (p < npanels)
        pass<RT, 1>(acol, lda, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                    c + p * kPanel, ldc);
    };
    if (m > kTileRows)
      panels(std::integral_constant<size_t, 2>{});
    else
      panels(std::integral_constant<size_t, 1>{});
  };
  const size_t cols = kblocks * kKBlock, steps = cols / step, tail = cols % step;
  if (steps) run(0, steps, step, false);
  if (tail) run(steps * step, 1, tail, steps > 0);
  _tile_release();
}

}  // namespace stern::kernels::amx
