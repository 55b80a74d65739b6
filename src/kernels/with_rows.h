// Tile dispatch shared by every micro-kernel family (igemm.h, signed_binary/tile.h).
#pragma once
#include <cstddef>
#include <type_traits>

namespace stern::kernels {

// Calls f(std::integral_constant<size_t, m>{}) for 1 <= m <= kMaxRows, so a tile template
// gets the row count as a compile-time constant (its accumulators stay in registers) and a
// tile of fewer rows than the kernel's MR does only its own work (a GEMV runs m = 1).
template <size_t kMaxRows, typename F>
void with_rows(size_t m, F&& f) {
  if constexpr (kMaxRows > 1)
    if (m < kMaxRows) return with_rows<kMaxRows - 1>(m, f);
  f(std::integral_constant<size_t, kMaxRows>{});
}

}  // namespace stern::kernels
