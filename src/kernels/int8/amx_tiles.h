// The AMX tile GEMM of the int8 layout, shared by its two entries: i8_gemm_32x32__amx (A from
// im2col rows) and i8_conv_32x32__amx (A straight from a padded NHWC image through a column
// offset table). Only files built with -mamx-tile -mamx-int8 (named __amx) include it.
//
// 32 rows x 2 or 1 panels at a time (two blockings, below) in accumulator tiles of 16 x 16
// int32 (TDPBUSD: uint8 activations x int8 weights). B tiles are read straight
// from the int8 panels (igemm.h: a panel's 64-byte quads are the rows of AMX's VNNI-packed
// B), so the sums are the VNNI kernel's, bit for bit.
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

// Two tile blockings, chosen by the entry (measured on the 3x3 256->256 layer, 2026-12-06,
// docs/KERNELS.md "AMX"):
//  - grid: 2 x 2 accumulators (32 rows x 2 panels), C(r, p) = tmm(2 r + p), A(r) = tmm(4 + r),
//    B(p) = tmm(6 + p). One tile load per TDPBUSD, but every operand tile is reloaded each
//    step, and the tiles are not renamed: a TILELOADD waits until the TDPBUSDs reading the
//    tile's previous contents are done, so loads and products run largely one after the
//    other (7.8 ns per TDPBUSD with every operand in L1, against 4.8 ns for TDPBUSD alone).
//    Best when A is not in L1 (im2col rows: a call's 32 rows x K' are 73 KiB at K' = 2304),
//    as A is read once per panel pair.
//  - ping_pong: 2 x 1 accumulators (32 rows x 1 panel), C(r) = tmm(r), and two operand sets
//    that alternate from step to step: set 0 A(r) = tmm(2 + r), B = tmm4; set 1 A(r) =
//    tmm(5 + r), B = tmm7. The next step's set loads while the products read the other one:
//    1.5 loads per TDPBUSD, but the tile unit stays busy (5.9 ns per TDPBUSD on the layer's
//    operands, B from L2 as before). A is read once per panel, so it must stay in L1: the
//    implicit convolution's A (32 pixels of the padded image, ~17 KiB).
// `m` rows (1..32), `step` columns per TDPBUSD (16, 32, 48 or 64). A row tile past m keeps 0
// rows (unconfigured): the m <= 16 instances never touch it.
enum class Blocking { grid, ping_pong };

template <Blocking kB>
TileConfig config(size_t m, size_t step) {
  TileConfig t;
  const auto set = [&](size_t tile, size_t rows, size_t colsb) {
    t.rows[tile] = static_cast<uint8_t>(rows), t.colsb[tile] = static_cast<uint16_t>(colsb);
  };
  for (size_t r = 0; r < 2 && r * kTileRows < m; ++r) {
    const size_t rows = std::min(kTileRows, m - r * kTileRows), cb = kPanel * sizeof(int32_t);
    if constexpr (kB == Blocking::grid)
      set(2 * r, rows, cb), set(2 * r + 1, rows, cb), set(4 + r, rows, step);
    else
      set(r, rows, cb), set(2 + r, rows, step), set(5 + r, rows, step);
  }
  for (const size_t b : {kB == Blocking::grid ? 6 : 4, 7}) set(b, step / 4, kQuad);
  return t;
}

// Columns [k0, k0 + steps step) of RT row tiles x NP panels into c (grid blocking): added to
// c's values when `accumulate`, else from zero. acol(k): the first row's bytes of columns
// [k, k + step) (rows lda apart). The tile intrinsics take tile numbers as literal tokens
// (GCC pastes them into the assembly), hence the spelled-out cases.
template <size_t RT, size_t NP, typename ACol>
void pass_grid(ACol acol, size_t lda, const uint8_t* w, size_t panel_stride, size_t k0, size_t steps,
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

// The same for RT row tiles x 1 panel, ping-pong blocking.
template <size_t RT, typename ACol>
void pass_ping_pong(ACol acol, size_t lda, const uint8_t* w, size_t k0, size_t steps, size_t step,
                    bool accumulate, int32_t* c, size_t ldc) {
  const size_t ldcb = ldc * sizeof(int32_t);
  int32_t* c1 = c + kTileRows * ldc;
  if (accumulate) {
    _tile_loadd(0, c, ldcb);
    if constexpr (RT == 2) _tile_loadd(1, c1, ldcb);
  } else {
    _tile_zero(0);
    if constexpr (RT == 2) _tile_zero(1);
  }
  const auto load0 = [&](size_t k) {
    const uint8_t* a = acol(k);
    _tile_loadd(4, w + k / 4 * kQuad, kQuad);
    _tile_loadd(2, a, lda);
    if constexpr (RT == 2) _tile_loadd(3, a + kTileRows * lda, lda);
  };
  const auto load1 = [&](size_t k) {
    const uint8_t* a = acol(k);
    _tile_loadd(7, w + k / 4 * kQuad, kQuad);
    _tile_loadd(5, a, lda);
    if constexpr (RT == 2) _tile_loadd(6, a + kTileRows * lda, lda);
  };
  load0(k0);
  size_t s = 0, k = k0;
  for (; s + 2 <= steps; s += 2, k += 2 * step) {
    load1(k + step);
    _tile_dpbusd(0, 2, 4);
    if constexpr (RT == 2) _tile_dpbusd(1, 3, 4);
    if (s + 2 < steps) load0(k + 2 * step);
    _tile_dpbusd(0, 5, 7);
    if constexpr (RT == 2) _tile_dpbusd(1, 6, 7);
  }
  if (s < steps) {  // an odd last step, in set 0
    _tile_dpbusd(0, 2, 4);
    if constexpr (RT == 2) _tile_dpbusd(1, 3, 4);
  }
  _tile_stored(0, c, ldcb);
  if constexpr (RT == 2) _tile_stored(1, c1, ldcb);
}

// The whole product: m rows (1..32) x npanels panels x kblocks 16-column blocks. Whole steps
// of `step` columns (64, or 32 / 16 when acol's columns are contiguous only that far), then
// the last 16, 32 or 48 columns with a narrower configuration; loading a configuration zeroes
// the tiles, so the first pass's sums go through c.
template <Blocking kB, typename ACol>
void gemm(size_t m, size_t kblocks, ACol acol, size_t lda, const uint8_t* w, size_t panel_stride,
          size_t npanels, int32_t* c, size_t ldc, size_t step = kStep) {
  const auto run = [&](size_t k0, size_t steps, size_t step, bool accumulate) {
    const TileConfig cfg = config<kB>(m, step);
    _tile_loadconfig(&cfg);
    const auto panels = [&]<size_t RT>(std::integral_constant<size_t, RT>) {
      size_t p = 0;
      if constexpr (kB == Blocking::grid)
        for (; p + 2 <= npanels; p += 2)
          pass_grid<RT, 2>(acol, lda, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                           c + p * kPanel, ldc);
      for (; p < npanels; ++p)
        if constexpr (kB == Blocking::grid)
          pass_grid<RT, 1>(acol, lda, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                           c + p * kPanel, ldc);
        else
          pass_ping_pong<RT>(acol, lda, w + p * panel_stride, k0, steps, step, accumulate, c + p * kPanel, ldc);
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
