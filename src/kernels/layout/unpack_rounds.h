// One round of the in-register 16 x 16 transposes of the AVX-512 layout and epilogue
// kernels (transpose_u8_16x64__avx512, epilogue_f32_16x16__avx512): vectors 2i and 2i + 1
// combine into i (by `lo`, e.g. an unpacklo) and i + 8 (by `hi`). Four rounds of doubling
// width transpose 16 x 16 elements; each kernel says which vector then holds which column.
#pragma once
#include <cstddef>

namespace stern::kernels {

template <typename V, typename Lo, typename Hi>
inline void unpack_round(V (&v)[16], Lo lo, Hi hi) {
  V t[16];
  for (size_t i = 0; i < 8; ++i) t[i] = lo(v[2 * i], v[2 * i + 1]), t[i + 8] = hi(v[2 * i], v[2 * i + 1]);
  for (size_t i = 0; i < 16; ++i) v[i] = t[i];
}

}  // namespace stern::kernels
