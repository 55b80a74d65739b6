// The automatic choice between the dense and the sparse ternary kernels (int_layers.cpp),
// exposed for `stern bench` and the tests. Costs measured by bench_kernels on the
// development machine (docs/KERNELS.md); only their ratios matter.
#pragma once
#include "kernels/qmatmul.h"
#include "runtime/layer.h"

namespace stern {

inline constexpr double kDenseGemvNsPerWeight = 0.005;
inline constexpr double kDenseGemmNsPerMac = 0.004;
inline constexpr double kSparseGemvNsPerNonzero = 0.25;
inline constexpr double kSparseGemvNsPerBlock = 1.0;
inline constexpr double kSparseGemmNsPerNonzero = 0.3;
inline constexpr double kSparseGemmNsPerBlock = 3.0;

// Dense or sparse ternary for a layer whose weights have this fraction of non-zeros,
// at batch 1.
kernels::Method choose_ternary_method(const LayerDesc& d, double density);

}  // namespace stern
