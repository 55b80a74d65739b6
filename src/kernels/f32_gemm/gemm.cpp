#include <algorithm>
#include <cstring>

#include "kernels/f32_gemm/f32_gemm.h"

namespace stern::f32gemm {

void ukernel_4x8__scalar(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                         size_t ldc, const TileArgs& args);
void ukernel_6x16__avx2(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                        size_t ldc, const TileArgs& args);
void ukernel_8x32__avx512(size_t kc, const float* a, const float* b, size_t ldb, float* c,
                          size_t ldc, const TileArgs& args);

namespace {

// Columns of B packed per block: kc * kNc floats (1 MiB at kc = 256) sit in L2 next to
// the packed A block.
constexpr size_t kNc = 1024;

// kc keeps one packed B micro-panel (kc * NR floats) within half of a 32 KiB L1;
// mc keeps the packed A block (mc * kc floats) within a quarter of a 1 MiB L2.
constexpr Config kConfigs[] = {
    {Isa::scalar, "f32_gemm_4x8__scalar", /*mr=*/4, /*nr=*/8, /*kc=*/256, /*mc=*/128,
     ukernel_4x8__scalar},
    {Isa::avx2, "f32_gemm_6x16__avx2", /*mr=*/6, /*nr=*/16, /*kc=*/256, /*mc=*/144,
     ukernel_6x16__avx2},
    {Isa::avx512, "f32_gemm_8x32__avx512", /*mr=*/8, /*nr=*/32, /*kc=*/128, /*mc=*/256,
     ukernel_8x32__avx512},
};

size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

// Full panels of a transposed source: fixed-size copies the compiler inlines (a libc
// memcpy call per 32 floats costs as much as the copy).
template <size_t W>
void copy_rows(const float* from, size_t ld, size_t rows, float* out) {
  for (size_t c = 0; c < rows; ++c, from += ld, out += W) std::memcpy(out, from, W * sizeof(float));
}

// Packs rows [r0, r0 + rows) x cols [c0, c0 + cols) of `src` into panels of `w` rows, each
// panel k-major: out[panel][c][w]. Rows past the matrix are zero. A transposed source has
// the panel's rows contiguous (im2col columns, the conv's B operand): one copy per column.
void pack_panels(MatrixRef src, size_t r0, size_t rows, size_t c0, size_t cols, size_t w,
                 float* out) {
  for (size_t p = 0; p < rows; p += w) {
    const size_t valid = std::min(w, rows - p);
    if (src.trans && valid == w && (w == 8 || w == 16 || w == 32)) {
      const float* from = src.data + c0 * src.ld + r0 + p;
      if (w == 32) copy_rows<32>(from, src.ld, cols, out);
      else if (w == 16) copy_rows<16>(from, src.ld, cols, out);
      else copy_rows<8>(from, src.ld, cols, out);
    } else if (src.trans) {
      const float* from = src.data + c0 * src.ld + r0 + p;
      for (size_t c = 0; c < cols; ++c, from += src.ld) {
        std::memcpy(out + c * w, from, valid * sizeof(float));
        std::fill(out + c * w + valid, out + (c + 1) * w, 0.0f);
      }
    } else {
      for (size_t i = 0; i < valid; ++i) {
        const float* row = src.data + (r0 + p + i) * src.ld + c0;
        for (size_t c = 0; c < cols; ++c) out[c * w + i] = row[c];
      }
      for (size_t c = 0; c < cols; ++c) std::fill(out + c * w + valid, out + (c + 1) * w, 0.0f);
    }
    out += cols * w;
  }
}

// Transposed view, so B (k x n, panels over n) packs with the same routine as A.
MatrixRef transposed(MatrixRef m) { return {m.data, m.ld, !m.trans}; }

}  // namespace

std::span<const Config> all_configs() { return kConfigs; }

const Config& config_for(Isa isa) {
  const CpuFeatures& cpu = cpu_features();
  const Config* best = &kConfigs[0];
  for (const Config& c : kConfigs)
    if (c.isa <= isa && cpu.supports(c.isa)) best = &c;
  return *best;
}

std::vector<float> pack_a(const Config& cfg, MatrixRef a, size_t m, size_t k) {
  std::vector<float> out(round_up(m, cfg.mr) * k);
  pack_panels(a, 0, m, 0, k, cfg.mr, out.data());
  return out;
}

std::vector<float> pack_b(const Config& cfg, MatrixRef b, size_t k, size_t n) {
  std::vector<float> out(round_up(n, cfg.nr) * k);
  pack_panels(transposed(b), 0, n, 0, k, cfg.nr, out.data());
  return out;
}

size_t scratch_floats(const Config& cfg, size_t k, size_t n) {
  const size_t kc = std::min(cfg.kc, k);
  return kc * round_up(std::min(kNc, n), cfg.nr) + cfg.mc * kc;
}

void compute(const Config& cfg, const Problem& p, size_t m0, size_t m1, size_t n0, size_t n1,
             float* scratch) {
  const size_t mr = cfg.mr, nr = cfg.nr;
  float* b_block = scratch;
  float* a_block = scratch + std::min(cfg.kc, p.k) * round_up(std::min(kNc, p.n), nr);
  // Edge tiles run the full-size micro-kernel on a local tile, then copy the valid part.
  alignas(64) float tile[8 * 32];
  alignas(64) float tile_bias_m[8];
  alignas(64) float tile_bias_n[32];

  // A row-major B is read in place when few A panels will reuse it: the micro-kernel then
  // streams NR-wide rows at the matrix's stride, cheaper than a packing pass. With more
  // reuse, packing wins (rows a power-of-two stride apart collide in L1). Only a partial
  // last panel is packed (zero padded). Either way the arithmetic is the same.
  const bool b_in_place = !p.b.packed && !p.b.raw.trans && m1 - m0 <= 2 * mr;
  for (size_t jc = n0; jc < n1; jc += kNc) {
    const size_t nc = std::min(kNc, n1 - jc);
    for (size_t pc = 0; pc < p.k; pc += cfg.kc) {
      const size_t kc = std::min(cfg.kc, p.k - pc);
      if (!p.b.packed && !b_in_place) pack_panels(transposed(p.b.raw), jc, nc, pc, kc, nr, b_block);
      if (b_in_place && nc % nr) {
        const size_t last = nc / nr * nr;
        pack_panels(transposed(p.b.raw), jc + last, nc - last, pc, kc, nr, b_block + (last / nr) * kc * nr);
      }
      for (size_t ic = m0; ic < m1; ic += cfg.mc) {
        const size_t mc = std::min(cfg.mc, m1 - ic);
        if (!p.a.packed) pack_panels(p.a.raw, ic, mc, pc, kc, mr, a_block);
        for (size_t jr = 0; jr < nc; jr += nr) {
          const size_t j = jc + jr, nv = std::min(nr, n1 - j);
          const bool direct_b = b_in_place && nv == nr;
          const size_t ldb = direct_b ? p.b.raw.ld : nr;
          const float* bp = p.b.packed ? p.b.packed + (j / nr) * p.k * nr + pc * nr
                            : direct_b ? p.b.raw.data + pc * p.b.raw.ld + j
                                       : b_block + (jr / nr) * kc * nr;
          for (size_t ir = 0; ir < mc; ir += mr) {
            const size_t i = ic + ir, mv = std::min(mr, m1 - i);
            const float* ap = p.a.packed ? p.a.packed + (i / mr) * p.k * mr + pc * mr
                                         : a_block + (ir / mr) * kc * mr;
            TileArgs args{pc > 0, pc + kc == p.k, p.relu, p.bias_m ? p.bias_m + i : nullptr,
                          p.bias_n ? p.bias_n + j : nullptr};
            float* c = p.c + i * p.ldc + j;
            if (mv == mr && nv == nr) {
              cfg.ukernel(kc, ap, bp, ldb, c, p.ldc, args);
              continue;
            }
            if (args.accumulate)
              for (size_t r = 0; r < mv; ++r) std::memcpy(tile + r * nr, c + r * p.ldc, nv * 4);
            if (args.bias_m) {
              std::fill_n(tile_bias_m, mr, 0.0f);
              std::copy_n(args.bias_m, mv, tile_bias_m);
              args.bias_m = tile_bias_m;
            }
            if (args.bias_n) {
              std::fill_n(tile_bias_n, nr, 0.0f);
              std::copy_n(args.bias_n, nv, tile_bias_n);
              args.bias_n = tile_bias_n;
            }
            cfg.ukernel(kc, ap, bp, ldb, tile, nr, args);
            for (size_t r = 0; r < mv; ++r) std::memcpy(c + r * p.ldc, tile + r * nr, nv * 4);
          }
        }
      }
    }
  }
}

}  // namespace stern::f32gemm
