// Portable XNOR-popcount kernel; the reference for the vector ones.
#include "kernels/binary/binary_xnor.h"

namespace stern::sbin {

void binary_xnor_4x4__scalar(const uint64_t* a, size_t mr, const uint64_t* w, size_t nr,
                             size_t words, int32_t* c, size_t ldc) {
  for (size_t r = 0; r < mr; ++r)
    for (size_t j = 0; j < nr; ++j) {
      int32_t pop = 0;
      for (size_t i = 0; i < words; ++i) pop += __builtin_popcountll(a[r * words + i] ^ w[j * words + i]);
      c[r * ldc + j] = pop;
    }
}

}  // namespace stern::sbin
