// Helpers shared by the bitmap and XNOR micro-kernels of every ISA: a partial tile (fewer
// rows or filters than the kernel's MR x NR) is computed by the full-width code with its
// last row / filter repeated; only the valid results are stored.
#pragma once
#include <cstddef>
#include <type_traits>

#include "kernels/with_rows.h"

namespace stern::sbin {

// ptrs[i] = base + min(i, count - 1) * stride for i < N.
template <size_t N, typename T>
void clamp_rows(const T* (&ptrs)[N], const T* base, size_t count, size_t stride) {
  for (size_t i = 0; i < N; ++i) ptrs[i] = base + (i < count ? i : count - 1) * stride;
}

using kernels::with_rows;  // kernels/with_rows.h

}  // namespace stern::sbin
