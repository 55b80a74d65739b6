// Helpers shared by the bitmap and XNOR micro-kernels of every ISA: a partial tile (fewer
// rows or filters than the kernel's MR x NR) is computed by the full-width code with its
// last row / filter repeated; only the valid results are stored.
#pragma once
#include <cstddef>
#include <type_traits>

namespace stern::sbin {

// ptrs[i] = base + min(i, count - 1) * stride for i < N.
template <size_t N, typename T>
void clamp_rows(const T* (&ptrs)[N], const T* base, size_t count, size_t stride) {
  for (size_t i = 0; i < N; ++i) ptrs[i] = base + (i < count ? i : count - 1) * stride;
}

// Calls f(std::integral_constant<size_t, mr>{}) for 1 <= mr <= MaxMr, so a tile template
// gets the row count as a compile-time constant (its accumulators stay in registers).
template <size_t MaxMr, typename F>
void with_rows(size_t mr, F&& f) {
  if constexpr (MaxMr > 1)
    if (mr < MaxMr) return with_rows<MaxMr - 1>(mr, f);
  f(std::integral_constant<size_t, MaxMr>{});
}

}  // namespace stern::sbin
