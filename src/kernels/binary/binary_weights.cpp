// Binary weights in bitmap form: bit = (code > 0). With w = bit ? alpha+ : -alpha-,
// sum_k w_k x_k = (alpha+ + alpha-) * sum_k bit_k x_k - alpha- * sum_k x_k, so the bitmap
// kernels compute binary layers with one extra row sum (bitmap_gemm.h).
#include "kernels/signed_binary/bitmap_gemm.h"
#include "stern/error.h"

namespace stern::sbin {

BitmapWeights pack_binary(const WeightMatrix& m, const std::string& where) {
  BitmapWeights w;
  w.bits = pack_bitmap(m, where, [&](int64_t r, int8_t code) {
    if (code != 1 && code != -1)
      fail(where, "row " + std::to_string(r) + " has code " + std::to_string(code) +
                      ", expected -1 or +1 (binary weights)");
    return code > 0;
  });
  for (int64_t r = 0; r < m.rows; ++r) {
    w.coef_bits.push_back(double(m.scale_pos[r]) + m.scale_neg[r]);
    w.coef_sum.push_back(-m.scale_neg[r]);
  }
  return w;
}

}  // namespace stern::sbin
