// The AMX tile GEMM of the int8 layout, shared by its two entries: i8_gemm_32x32__amx (A from
// im2col rows) and i8_conv_32x32__amx (A straight from a padded NHWC image through a column
// offset table). Only files built with -mamx-tile -mamx-int8 (named __amx) include it.
//
// 32 rows x 2 panels or 48 rows x 1 panel at a time (two blockings, below) in accumulator tiles of 16 x 16
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
//  - rows3: 3 x 1 accumulators (48 rows x 1 panel), C(r) = tmm(r), A(r) = tmm(3 + r), and B
//    in tmm6 and tmm7 by step parity: the next step's B loads while the products read this
//    one (TILELOADDT1: B passes once per call, and the hint keeps it from pushing A out of
//    L1; 3x3 256->256 at 14x14 min 80-81 -> 78 us on 1 thread, 51.5-53 -> 48.4-50 on 2), and
//    A(r) reloads while the tile unit runs the step's two other products. 1.33
//    loads per TDPBUSD and a third less B per row than 32-row blockings: B streams from L2
//    (a panel's 16 x K bytes), the bound of the implicit convolution. A is read once per
//    panel, so it must stay in L1: the implicit convolution's A (48 pixels of the padded
//    image, ~21 KiB at 256 channels). It replaced a ping-pong blocking (2 x 1 accumulators,
//    two full operand sets alternating, 1.5 loads per TDPBUSD): 1.05x faster on 3x3
//    256->256 at 14x14, 1.08x at 128->128 at 28x28, 1.12x on vgg_128@14 (docs/BENCHMARKS.md).
// `m` rows (1 .. kRowTiles row tiles), `step` columns per TDPBUSD (16, 32, 48 or 64). A row
// tile past m keeps 0 rows (unconfigured): the smaller instances never touch it.
enum class Blocking { grid, rows3 };

// Where the rows of A and C are: tiles of `rows` (<= 16) rows, row tile r's A at `pitch` r rows
// (of lda bytes) from the first, its C at rows r (of ldc) from the first. The im2col rows and
// the padded width's every pixel: rows = pitch = 16; one output row of a convolution per tile
// (only its real pixels): rows = the output width, pitch = the padded width. A TDPBUSD's time
// grows with its rows (Sapphire Rapids, rows3 loop in L1: 6.55 ns at 16 rows, 5.94 at 14,
// 5.55 at 12), so rows that are dropped afterwards cost their share.
struct RowTiles {
  size_t rows = kTileRows, pitch = kTileRows;
};

template <Blocking kB>
inline constexpr size_t kRowTiles = kB == Blocking::rows3 ? 3 : 2;

template <Blocking kB>
TileConfig config(size_t m, size_t tile_rows, size_t step) {
  TileConfig t;
  const auto set = [&](size_t tile, size_t rows, size_t colsb) {
    t.rows[tile] = static_cast<uint8_t>(rows), t.colsb[tile] = static_cast<uint16_t>(colsb);
  };
  for (size_t r = 0; r < kRowTiles<kB> && r * tile_rows < m; ++r) {
    const size_t rows = std::min(tile_rows, m - r * tile_rows), cb = kPanel * sizeof(int32_t);
    if constexpr (kB == Blocking::grid)
      set(2 * r, rows, cb), set(2 * r + 1, rows, cb), set(4 + r, rows, step);
    else
      set(r, rows, cb), set(3 + r, rows, step);
  }
  for (const size_t b : {6, 7}) set(b, step / 4, kQuad);
  return t;
}

// Columns [k0, k0 + steps step) of RT row tiles x NP panels into c (grid blocking): added to
// c's values when `accumulate`, else from zero. acol(k): the first row's bytes of columns
// [k, k + step) (rows lda apart). The tile intrinsics take tile numbers as literal tokens
// (GCC pastes them into the assembly), hence the spelled-out cases.
template <size_t RT, size_t NP, typename ACol>
void pass_grid(ACol acol, size_t lda, RowTiles tiles, const uint8_t* w, size_t panel_stride, size_t k0,
               size_t steps, size_t step, bool accumulate, int32_t* c, size_t ldc) {
  const size_t ldcb = ldc * sizeof(int32_t);
  int32_t* c1 = c + tiles.rows * ldc;
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
      _tile_loadd(5, a + tiles.pitch * lda, lda);
      _tile_dpbusd(2, 5, 6);
    }
    if constexpr (RT == 2 && NP == 2) _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, c, ldcb);
  if constexpr (NP == 2) _tile_stored(1, c + kPanel, ldcb);
  if constexpr (RT == 2) _tile_stored(2, c1, ldcb);
  if constexpr (RT == 2 && NP == 2) _tile_stored(3, c1 + kPanel, ldcb);
}

// The same for RT row tiles (1..3) x 1 panel, rows3 blocking.
template <size_t RT, typename ACol>
void pass_rows3(ACol acol, size_t lda, RowTiles tiles, const uint8_t* w, size_t k0, size_t steps, size_t step,
                bool accumulate, int32_t* c, size_t ldc) {
  const size_t ldcb = ldc * sizeof(int32_t), da = tiles.pitch * lda, dc = tiles.rows * ldc;
  if (accumulate) {
    _tile_loadd(0, c, ldcb);
    if constexpr (RT >= 2) _tile_loadd(1, c + dc, ldcb);
    if constexpr (RT >= 3) _tile_loadd(2, c + 2 * dc, ldcb);
  } else {
    _tile_zero(0);
    if constexpr (RT >= 2) _tile_zero(1);
    if constexpr (RT >= 3) _tile_zero(2);
  }
  // One step with B in tmm6 (B6) or tmm7, loading the next step's B into the other.
  const auto run = [&]<bool B6>(size_t s, size_t k) {
    const uint8_t* a = acol(k);
    if (s + 1 < steps) {
      if constexpr (B6)
        _tile_stream_loadd(7, w + (k + step) / 4 * kQuad, kQuad);
      else
        _tile_stream_loadd(6, w + (k + step) / 4 * kQuad, kQuad);
    }
    _tile_loadd(3, a, lda);
    if constexpr (B6) _tile_dpbusd(0, 3, 6); else _tile_dpbusd(0, 3, 7);
    if constexpr (RT >= 2) {
      _tile_loadd(4, a + da, lda);
      if constexpr (B6) _tile_dpbusd(1, 4, 6); else _tile_dpbusd(1, 4, 7);
    }
    if constexpr (RT >= 3) {
      _tile_loadd(5, a + 2 * da, lda);
      if constexpr (B6) _tile_dpbusd(2, 5, 6); else _tile_dpbusd(2, 5, 7);
    }
  };
  _tile_stream_loadd(6, w + k0 / 4 * kQuad, kQuad);
  size_t s = 0, k = k0;
  for (; s + 2 <= steps; s += 2, k += 2 * step) {
    run.template operator()<true>(s, k);
    run.template operator()<false>(s + 1, k + step);
  }
  if (s < steps) run.template operator()<true>(s, k);
  _tile_stored(0, c, ldcb);
  if constexpr (RT >= 2) _tile_stored(1, c + dc, ldcb);
  if constexpr (RT >= 3) _tile_stored(2, c + 2 * dc, ldcb);
}

// The whole product: m rows (any number of row tiles) x npanels panels x kblocks 16-column
// blocks, in groups of kRowTiles row tiles (group g's A at kRowTiles g tiles of A from
// acol's, its C likewise). Whole steps of `step` columns (64, or 48 / 32 / 16 when acol's
// columns are contiguous only that far), then the last 16, 32 or 48 columns with a narrower
// configuration; loading a configuration zeroes the tiles, so the first pass's sums go
// through c. One configuration for all whole groups and one for a shorter last group, one
// release at the end: per group (2 row tiles of 3 steps each) they took the 3x3 16->16 layer
// at 28x28 from 8.3 to 10.3 us.
template <Blocking kB, typename ACol>
void gemm(size_t m, size_t kblocks, ACol acol, size_t lda, RowTiles tiles, const uint8_t* w, size_t panel_stride,
          size_t npanels, int32_t* c, size_t ldc, size_t step = kStep) {
  constexpr size_t kRT = kRowTiles<kB>;
  const size_t group_rows = kRT * tiles.rows, whole = m / group_rows, rest = m % group_rows;
  const auto run = [&](size_t k0, size_t steps, size_t step, bool accumulate) {
    // Groups [g0, g1) of mg rows each.
    const auto groups = [&](size_t g0, size_t g1, size_t mg) {
      const TileConfig cfg = config<kB>(mg, tiles.rows, step);
      _tile_loadconfig(&cfg);
      for (size_t g = g0; g < g1; ++g) {
        const size_t da = g * kRT * tiles.pitch * lda;
        const auto ag = [&](size_t k) { return acol(k) + da; };
        int32_t* cg = c + g * group_rows * ldc;
        const auto panels = [&]<size_t RT>(std::integral_constant<size_t, RT>) {
          size_t p = 0;
          if constexpr (kB == Blocking::grid)
            for (; p + 2 <= npanels; p += 2)
              pass_grid<RT, 2>(ag, lda, tiles, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                               cg + p * kPanel, ldc);
          for (; p < npanels; ++p)
            if constexpr (kB == Blocking::grid)
              pass_grid<RT, 1>(ag, lda, tiles, w + p * panel_stride, panel_stride, k0, steps, step, accumulate,
                               cg + p * kPanel, ldc);
            else
              pass_rows3<RT>(ag, lda, tiles, w + p * panel_stride, k0, steps, step, accumulate, cg + p * kPanel, ldc);
        };
        if constexpr (kRT == 3)
          if (mg > 2 * tiles.rows) {
            panels(std::integral_constant<size_t, 3>{});
            continue;
          }
        if (mg > tiles.rows)
          panels(std::integral_constant<size_t, 2>{});
        else
          panels(std::integral_constant<size_t, 1>{});
      }
    };
    if (whole) groups(0, whole, group_rows);
    if (rest) groups(whole, whole + 1, rest);
  };
  const size_t cols = kblocks * kKBlock, steps = cols / step, tail = cols % step;
  if (steps) run(0, steps, step, false);
  if (tail) run(steps * step, 1, tail, steps > 0);
  _tile_release();
}

}  // namespace stern::kernels::amx
