// FP32 GEMM for the reference runtime: C = A * B (+ C) with a fused bias/ReLU epilogue.
// BLIS-style: A is packed into panels of MR rows and B into panels of NR columns (both
// k-major, zero padded), a micro-kernel computes one full MR x NR tile in registers, and the
// driver blocks K by kc and M by mc so the packed A block stays in L2 while a B panel streams
// through L1. Constant operands (conv / linear weights) are packed once at load.
//
// Micro-kernels, one file per ISA, all checked against the scalar one by
// tests/runtime/f32_gemm_test.cpp:
//   f32_gemm_4x8__scalar.cpp  (reference)   f32_gemm_6x16__avx2.cpp   f32_gemm_8x32__avx512.cpp
#pragma once
#include <cstddef>
#include <span>
#include <vector>

#include "stern/cpu_features.h"

namespace stern::f32gemm {

// Epilogue of a micro-kernel call. `accumulate`: add the tile already in C (every K block
// but the first). `last`: this is the final K block, so add the biases and apply ReLU.
// bias_m[i] is added to row i, bias_n[j] to column j (either may be null).
struct TileArgs {
  bool accumulate;
  bool last;
  bool relu;
  const float* bias_m;
  const float* bias_n;
};

// One full MR x NR tile: a = kc * MR floats (k-major); b = kc rows of NR floats, row k at
// b + k * ldb (ldb = NR for a packed panel, the row stride for B read in place); c row
// stride ldc.
using Ukernel = void (*)(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                         size_t ldc, const TileArgs& args);

struct Config {
  Isa isa;
  const char* name;  // e.g. "f32_gemm_8x32__avx512"
  size_t mr, nr;
  size_t kc, mc;     // K block and M block (multiple of mr) of the driver
  Ukernel ukernel;
};

// Every compiled micro-kernel, scalar first (the tests and benchmarks walk this).
std::span<const Config> all_configs();
// The fastest configuration the CPU supports at or below `isa`.
const Config& config_for(Isa isa);

// A logical matrix view: element (r, c) = trans ? data[c * ld + r] : data[r * ld + c].
struct MatrixRef {
  const float* data = nullptr;
  size_t ld = 0;
  bool trans = false;
};

// Packs a rows x cols matrix (the A operand: rows = M, cols = K) into ceil(M/MR) panels of
// K x MR, zero padded. pack_b does the same for B (rows = K, cols = N) with NR columns.
std::vector<float> pack_a(const Config& cfg, MatrixRef a, size_t m, size_t k);
std::vector<float> pack_b(const Config& cfg, MatrixRef b, size_t k, size_t n);

// An operand is either raw (packed per call into scratch) or prepacked by pack_a/pack_b.
struct Operand {
  MatrixRef raw;
  const float* packed = nullptr;
};

struct Problem {
  size_t m, n, k;
  Operand a, b;
  float* c;
  size_t ldc;
  const float* bias_m = nullptr;  // length m
  const float* bias_n = nullptr;  // length n
  bool relu = false;
};

// Floats of scratch compute() needs for a given problem (its packing buffers).
size_t scratch_floats(const Config& cfg, size_t k, size_t n);

// Computes the rows [m0, m1) x columns [n0, n1) of C, where m0 is a multiple of MR and n0
// a multiple of NR (so callers can split one problem across threads). Single-threaded.
void compute(const Config& cfg, const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1,
             float* scratch);

}  // namespace stern::f32gemm
