// The automatic choice between the dense and the sparse ternary kernels (int_layers.cpp),
// exposed for `stern bench` and the tests. Costs measured by bench_kernels on the
// development machine (docs/KERNELS.md); only their ratios matter.
#pragma once
#include "kernels/qmatmul.h"
#include "runtime/layer.h"

namespace stern {

// bench_kernels, 1 thread, CPU time: gemv/4096x4096 and conv/conv3x3_256@14 at 90 and 98%
// (sparse constants refitted for the banded GEMV and the flat-list GEMM; the dense GEMV's
// 0.0083 scaled by its 108 -> 80-86 us on Zen 4 when its accumulators left the stack).
inline constexpr double kDenseGemvNsPerWeight = 0.0063;
inline constexpr double kDenseGemmNsPerMac = 0.0055;
// AMX tile GEMM (a dense ternary convolution as int8 weights; kernels::ternary_on_tile_gemm):
// fitted to the crossover with the sparse GEMM measured on the 3x3 256->256 layer at 14x14 on
// a Xeon with AMX (1 thread, 2026-12-06 after the rows3 blocking: dense 67-77 us at 90-95%
// sparsity, the tile unit running faster on sparser weights; sparse 122 us at 95%, 70 at 98%:
// equal at ~98%; was 0.0015 for the ping-pong blocking's 92-98 us, 0.0016 for the grid
// blocking's 118-120 us, 0.0024 for the im2col GEMM of 203 us). Layers the implicit path
// does not take (channels not a multiple of 16, strides, FGQ groups) run the im2col GEMM,
// ~1.6x this per MAC.
inline constexpr double kTileGemmNsPerMac = 0.0011;
inline constexpr double kSparseGemvNsPerNonzero = 0.03;
inline constexpr double kSparseGemvNsPerBlock = 0.5;   // per row and 128 columns
inline constexpr double kSparseGemmNsPerNonzero = 1.1;  // per 64-pixel tile
inline constexpr double kSparseGemmNsPerBlock = 4.0;    // per row, 128 columns and tile

// Dense or sparse ternary for a layer of this geometry (linear: a 1x1 convolution over 1x1
// images) with `cols` weight columns of which this fraction is non-zero, at batch 1.
kernels::Method choose_ternary_method(const ConvGeometry& g, int64_t cols, double density);

}  // namespace stern
