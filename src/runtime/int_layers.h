// The automatic choice between the dense and the sparse ternary kernels (int_layers.cpp),
// exposed for `stern bench` and the tests. Costs measured by bench_kernels on the
// development machine (docs/KERNELS.md); only their ratios matter.
#pragma once
#include "kernels/qmatmul.h"
#include "runtime/layer.h"

namespace stern {

// Costs in ns of the kernels one ISA runs, measured by bench_kernels / stern bench; only
// their ratios within one table matter.
struct TernaryCosts {
  // The dense kernels' output channels per tile: a layer of fewer costs a whole tile.
  int64_t dense_channels;
  double dense_gemv_per_weight, dense_gemm_per_mac;
  // The dense GEMV when its 2-bit weights exceed the last-level cache (DRAM-bound).
  double dense_gemv_per_weight_dram;
  double sparse_gemv_per_nonzero, sparse_gemv_per_block;  // per row and 128 columns
  double sparse_gemm_per_nonzero, sparse_gemm_per_block;  // per 64-pixel tile; per row, 128 columns and tile
};
// AVX-512 (VNNI) kernels. bench_kernels, 1 thread, CPU time, Zen 4: gemv/4096x4096 and
// conv/conv3x3_256@14 at 90 and 98% (sparse constants refitted for the banded GEMV and the
// flat-list GEMM; the dense GEMV's 0.0083 scaled by its 108 -> 80-86 us on Zen 4 when its
// accumulators left the stack). On Ice Lake (session 8) the conv crossover they give, ~78%,
// is the measured one. Dense tiles of 64 channels (the 6 x 64 int8 and 1 x 64 GEMV
// kernels): on Ice Lake the 16- and 32-channel layers of the Fashion VGG cost 2-5x per MAC
// what the 256-channel layer does, and run faster sparse at 55-73% sparsity.
// In DRAM (16384^2, 64 MB of 2-bit weights, Ice Lake, 1 thread, session 9): the dense GEMV
// 4.29 ms (0.016 ns per weight), sparse 2.08 / 1.60 / 1.04 ms at 90 / 95 / 98%.
inline constexpr TernaryCosts kAvx512Costs{64, 0.0063, 0.0055, 0.016, 0.03, 0.5, 1.1, 4.0};
// AVX2 kernels: Ice Lake capped at AVX2 (STERN_ISA=avx2, session 8; `stern bench --layer`,
// 1 thread, min): conv:256x256x3x3@14x14 dense 1292 us, sparse 253 us at 90% and 84 us at
// 98%: convolutions go sparse from ~41% sparsity. The sparse GEMV (session 9, bench_kernels
// gemv/4096x4096, medians): dense 272 us, sparse 644 / 303 / 205 us at 90 / 95 / 98%: batch-1
// linear layers go sparse from ~97%. In DRAM (16384^2): dense 7.4-8.1 ms (0.028 ns per weight),
// sparse 4.5 ms at 95%, 2.74 at 98%.
inline constexpr TernaryCosts kAvx2Costs{16, 0.015, 0.0112, 0.028, 0.33, 0.73, 0.895, 2.27};
// The scalar sparse GEMV (fc:4096x4096 on Ice Lake: 2.77 / 1.84 / 1.36 ms at 90 / 95 / 98%):
// its per-block cost alone exceeds the dense GEMV's, so batch-1 linear layers stay dense.
inline constexpr double kScalarSparseGemvPerNonzero = 1.05, kScalarSparseGemvPerBlock = 7.7;
// The costs of the kernels `isa` runs: AVX-512 VNNI's table or AVX2's (also for plain
// AVX-512 and scalar, not measured on their own), with the sparse GEMV's costs of the kernel
// that runs (the VBMI one needs VBMI, the AVX2 one AVX2) and, for codes of at most 4 bits,
// the sparse GEMM's u4 kernel where there is one (kU4SparseGemmFactor).
TernaryCosts ternary_costs(Isa isa, bool small_codes = false);
// AMX tile GEMM (a dense ternary convolution as int8 weights; kernels::ternary_on_tile_gemm):
// fitted to the crossover with the sparse GEMM measured on the 3x3 256->256 layer at 14x14 on
// a Xeon with AMX (1 thread, 2026-12-06 after the rows3 blocking: dense 67-77 us at 90-95%
// sparsity, the tile unit running faster on sparser weights; sparse 122 us at 95%, 70 at 98%:
// equal at ~98%; was 0.0015 for the ping-pong blocking's 92-98 us, 0.0016 for the grid
// blocking's 118-120 us, 0.0024 for the im2col GEMM of 203 us). Layers the implicit path
// does not take (channels not a multiple of 16, strides, FGQ groups) run the im2col GEMM,
// ~1.6x this per MAC.
inline constexpr double kTileGemmNsPerMac = 0.0011;

// Dense convolutions of few input channels on plane_conv (kernels::dense_on_plane_conv), per
// output pixel, operand and output channel: fitted to the crossovers with the sparse GEMM on
// Ice Lake (1 thread, `stern bench --layer ... --encoding sparse-ternary --sparsity s`
// against `--encoding ternary --kernel ternary_dense`, min): 3x3 1->16 at 28x28 dense 4.6
// us, sparse 5.3 / 4.7 / 4.4 at 50 / 70 / 90%; 3->32 at 32x32 16.0, sparse 17.2 / 16.0 /
// 12.7; 3->64 at 56x56 100, sparse 98 / 80 / 67; 4->64 at 56x56 115, sparse 111 / 89 / 71;
// 5x5 1->6 at 28x28 4.4, sparse 3.0 / 2.6 / 2.4. Priced as the im2col GEMM, 3->64 went dense at
// 70% (92 against 80 us).
inline constexpr double kPlaneConvNsPerOperand = 0.033;

// The AVX2 sparse GEMM for codes of at most 4 bits (tsparse_gemm_64x1_u4__avx2) per non-zero,
// against the general one: the 3x3 256->256 layer at 14x14 under STERN_ISA=avx2, Ice Lake,
// 4- against 8-bit activations at 70% and 60% density: 1196 / 1572 and 1071 / 1397 us.
inline constexpr double kU4SparseGemmFactor = 0.77;
// The AVX-512 sparse GEMM on packed planes (tsparse_gemm_128x1_p4__avx512: 128 pixels per
// tile) per non-zero and 64-pixel tile, against the general one: the 3x3 256->256 layer's
// GEMM at 14x14, 90% sparse, Ice Lake (bench_kernels ukernel/, 3 alternating runs): 130-151
// against 197-207 us.
inline constexpr double kP4SparseGemmFactor = 0.65;
// Strided convolutions on the sparse GEMM deal each padded input plane out to its stride_h x
// stride_w phases first (kernels/qmatmul.cpp sparse_tiles, the deal_phases kernel: 0.09-0.12
// ns a byte on AVX2 / VBMI, 0.32 scalar), priced per byte of those planes at 0.35, which carries
// the small layers' fixed costs this model does not otherwise see. Fitted between the two
// small stride-2 layers (Ice Lake, 1 thread, min of 3, dense / sparse at 90%: 16->32 at 28x28
// 12.6 / 10.6 us, 32->64 at 14x14 7.4 / 9.0); the large ones go sparse by far (64->128 at
// 56x56 374 / 226, 128->256 at 28x28 293 / 196, 256->512 at 14x14 366 / 192, a busy spell).
inline constexpr double kStridedPlaneNsPerByte = 0.35;

// Dense or sparse ternary for a layer of this geometry (linear: a 1x1 convolution over 1x1
// images) with `cols` weight columns of which this fraction is non-zero, at batch 1, on the
// kernels of `isa`; small_codes: activation codes of at most 4 bits (the sparse GEMM's u4
// kernel where `isa` has one, or its packed planes: kernels::sparse_planes_packed).
kernels::Method choose_ternary_method(const ConvGeometry& g, int64_t cols, double density,
                                      Isa isa = cpu_features().best(),
                                      int64_t llc_bytes = cpu_features().llc_bytes, bool small_codes = false);

// Whether a signed-binary or binary convolution runs faster on the ternary provider, its
// {-1, 0, 1} codes as ternary weights, than on the bitmap / lut kernels: where that provider
// picks the sparse GEMM (whose walk needs no VNNI), or runs int8 by
// kernels::bitmap_conv_runs_as_int8 (AMX, or two VNNI ports). docs/BENCHMARKS.md
// "Signed-binary on two VNNI ports".
bool bitmap_conv_defers(const ConvGeometry& g, int64_t cols, double density, Isa isa, bool vnni_dual);

}  // namespace stern
