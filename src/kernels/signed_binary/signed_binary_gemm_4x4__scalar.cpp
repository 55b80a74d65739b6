// Portable bitmap kernel: walks the set bits of each filter, so its cost is proportional to
// the non-zeros. Plain enough to serve as the reference the vector kernels are read against.
#include "kernels/signed_binary/bitmap_gemm.h"

namespace stern::sbin {

void signed_binary_gemm_4x4__scalar(const uint8_t* a, size_t lda, size_t mr, const uint64_t* w,
                                    size_t words, size_t nr, int32_t* c, size_t ldc) {
  for (size_t r = 0; r < mr; ++r)
    for (size_t j = 0; j < nr; ++j) {
      const uint8_t* x = a + r * lda;
      const uint64_t* bits = w + j * words;
      int32_t sum = 0;
      for (size_t i = 0; i < words; ++i)
        for (uint64_t word = bits[i]; word; word &= word - 1)
          sum += x[64 * i + size_t(__builtin_ctzll(word))];
      c[r * ldc + j] = sum;
    }
}

}  // namespace stern::sbin
