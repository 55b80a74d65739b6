// Helpers shared by the bitmap, XNOR and lut micro-kernels of every ISA: a partial tile
// (fewer rows or filters than the kernel's MR x NR) is computed by the full-width code with
// its last row / filter repeated; only the valid results are stored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "kernels/with_rows.h"

namespace stern::sbin {

// ptrs[i] = base + min(i, count - 1) * stride for i < N.
template <size_t N, typename T>
void clamp_rows(const T* (&ptrs)[N], const T* base, size_t count, size_t stride) {
  for (size_t i = 0; i < N; ++i) ptrs[i] = base + (i < count ? i : count - 1) * stride;
}

using kernels::with_rows;  // kernels/with_rows.h

// An XNOR micro-kernel's entry: row and filter pointers clamped to the tile, then
// tile(integral_constant<mr>, rows, filters) with the row count as a compile-time constant.
template <size_t MR, size_t NR, typename Tile>
void xnor_tiles(const uint64_t* a, size_t mr, const uint64_t* w, size_t nr, size_t words,
                Tile&& tile) {
  const uint64_t* rows[MR];
  const uint64_t* filters[NR];
  clamp_rows(rows, a, mr, words);
  clamp_rows(filters, w, nr, words);
  with_rows<MR>(mr, [&](auto n) { tile(n, rows, filters); });
}

// One group's table for the vector lut kernels: t[p - 1] = the sum of x_k over the bits k
// of pattern p (1 <= p <= 15), 11 adds. V is the ISA's vector of uint16 lanes.
template <typename V, typename Add>
inline void build_group_table(V* t, V x0, V x1, V x2, V x3, Add add) {
  t[0] = x0;
  t[1] = x1;
  t[2] = add(x0, x1);
  t[3] = x2;
  for (int q = 1; q < 4; ++q) t[3 + q] = add(x2, t[q - 1]);
  t[7] = x3;
  for (int q = 1; q < 8; ++q) t[7 + q] = add(x3, t[q - 1]);
}

}  // namespace stern::sbin
