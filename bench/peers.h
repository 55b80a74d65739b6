// Hand-written peers of bench_kernels (peers__avx2.cpp, compiled with AVX2 flags; the
// benchmark checks cpu_features().avx2 before calling them).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace stern::bench {

// llama.cpp's TQ2_0 ternary GEMV (2.06 bits per weight) re-implemented from its AVX2 path
// (ggml_vec_dot_tq2_0_q8_K): blocks of 256 weights stored as w + 1 at 2 bits (64 bytes)
// plus a per-block scale, activations as q8_K blocks (int8, float scale, int16 sums of 16),
// VPMADDUBSW on the masked 2-bit codes. One row per output.
struct Tq2Matrix {
  int64_t rows = 0, cols = 0;  // cols a multiple of 256
  std::vector<uint8_t> qs;     // rows * cols / 4
  std::vector<float> d;        // rows * cols / 256
};
struct Q8K {
  std::vector<int8_t> qs;
  std::vector<float> d;        // per 256
  std::vector<int16_t> bsums;  // per 16
};
Tq2Matrix tq2_random(int64_t rows, int64_t cols, uint32_t seed);
Q8K q8k_random(int64_t cols, uint32_t seed);
void tq2_gemv__avx2(const Tq2Matrix& w, const Q8K& x, int64_t row0, int64_t row1, float* y);

// Streaming read of n bytes (a multiple of 128), four independent accumulators: the DRAM
// read bandwidth the GEMV targets are measured against.
uint64_t stream_sum__avx2(const uint8_t* p, size_t n);

}  // namespace stern::bench
