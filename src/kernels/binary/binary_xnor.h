// Binary weights {-alpha, +alpha} with binary activations {-1, +1}: XNOR-popcount.
// With bit 1 = +1 for both operands, sum_k a_k w_k = K - 2 * popcount(a XOR w) (the zero
// padding bits of both agree, so they drop out of the XOR). One file per ISA, each checked
// against the scalar kernel and a sum of signs by tests/kernels/test_binary.cpp:
//   binary_xnor_4x4__scalar.cpp   binary_xnor_2x4__avx2.cpp (nibble-table popcount)
//   binary_xnor_4x4__avx512.cpp   (VPOPCNTDQ; chosen only when the CPU has it)
// Binary weights with uint8 / int8 activations use the bitmap kernels (bitmap_gemm.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/signed_binary/bitmap_gemm.h"

namespace stern::sbin {

// Activation rows as sign bits, laid out like Bitmap: bit = (x >= 0), i.e. sign(0) = +1.
struct SignBits {
  int64_t rows = 0, cols = 0, words = 0;
  std::vector<uint64_t> bits;
};
SignBits pack_sign_bits(const int8_t* x, int64_t rows, int64_t cols, int64_t ld);

// c[r * ldc + j] = popcount(row r of a XOR filter j of w) over `words` words, r < mr, j < nr.
using XnorUkernel = void (*)(const uint64_t* a, size_t mr, const uint64_t* w, size_t nr,
                             size_t words, int32_t* c, size_t ldc);
struct XnorConfig {
  Isa isa;
  const char* name;
  size_t mr, nr;
  bool needs_vpopcntdq;
  XnorUkernel ukernel;
};
std::span<const XnorConfig> xnor_configs();
bool xnor_supported(const XnorConfig& cfg);
// The fastest supported configuration at or below `isa`.
const XnorConfig& xnor_config_for(Isa isa);

// y[m * ldy + n] = a_scale * alpha_n * (K - 2 * popcount) + bias[n], ReLU if `relu`, for
// rows [m0, m1) and filters [n0, n1). `w` must come from pack_binary with alpha+ == alpha-.
void xnor_gemm(const BitmapWeights& w, const SignBits& a, float a_scale, const float* bias,
               bool relu, float* y, int64_t ldy, int64_t m0, int64_t m1, int64_t n0, int64_t n1,
               Isa isa);

}  // namespace stern::sbin
