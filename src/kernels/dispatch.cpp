// The one place an integer kernel is chosen for the CPU: tables built from kernels.inc,
// filtered by stern::cpu_features().
#include "kernels/igemm.h"

namespace stern::kernels {

#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr)                              \
  void name(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,   \
            size_t panel_stride, size_t npanels, int32_t* c, size_t ldc);
#define STERN_SPARSE_GEMV_UKERNEL(name, isa, vbmi)                                  \
  void name(const uint8_t* x, const SparseBands& w, size_t band0, size_t band1, int32_t* y);
#define STERN_SPARSE_GEMM_UKERNEL(name, isa, vbmi)                                    \
  void name(const uint8_t* at, const int32_t* offset, const SparseRows& w, size_t row0,   \
            size_t row1, size_t g, size_t lanes, int32_t* c, size_t ldc);
#define STERN_QUANTIZE_UKERNEL(name, isa, vbmi) \
  void name(const float* x, size_t n, const ActQuant& act, int32_t add, uint8_t* out);
#include "kernels/kernels.inc"
#undef STERN_DENSE_UKERNEL
#undef STERN_SPARSE_GEMV_UKERNEL
#undef STERN_SPARSE_GEMM_UKERNEL
#undef STERN_QUANTIZE_UKERNEL

namespace {

// Each table expands kernels.inc with only its own row kind defined.
#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr)
#define STERN_SPARSE_GEMV_UKERNEL(name, isa, vbmi)
#define STERN_SPARSE_GEMM_UKERNEL(name, isa, vbmi)
#define STERN_QUANTIZE_UKERNEL(name, isa, vbmi)

constexpr DenseKernel kDense[] = {
#undef STERN_DENSE_UKERNEL
#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr) \
  {#name, WeightFormat::format, KernelOp::op, {Isa::isa, vbmi}, mr, name},
#include "kernels/kernels.inc"
#undef STERN_DENSE_UKERNEL
#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr)
};

constexpr SparseGemvKernel kSparseGemv[] = {
#undef STERN_SPARSE_GEMV_UKERNEL
#define STERN_SPARSE_GEMV_UKERNEL(name, isa, vbmi) {#name, {Isa::isa, vbmi}, name},
#include "kernels/kernels.inc"
#undef STERN_SPARSE_GEMV_UKERNEL
#define STERN_SPARSE_GEMV_UKERNEL(name, isa, vbmi)
};

constexpr SparseGemmKernel kSparseGemm[] = {
#undef STERN_SPARSE_GEMM_UKERNEL
#define STERN_SPARSE_GEMM_UKERNEL(name, isa, vbmi) {#name, {Isa::isa, vbmi}, name},
#include "kernels/kernels.inc"
#undef STERN_SPARSE_GEMM_UKERNEL
#define STERN_SPARSE_GEMM_UKERNEL(name, isa, vbmi)
};

constexpr QuantizeKernel kQuantize[] = {
#undef STERN_QUANTIZE_UKERNEL
#define STERN_QUANTIZE_UKERNEL(name, isa, vbmi) {#name, {Isa::isa, vbmi}, name},
#include "kernels/kernels.inc"
};

#undef STERN_DENSE_UKERNEL
#undef STERN_SPARSE_GEMV_UKERNEL
#undef STERN_SPARSE_GEMM_UKERNEL
#undef STERN_QUANTIZE_UKERNEL

bool within(const KernelRequirement& r, Isa cap) {
  return static_cast<int>(r.isa) <= static_cast<int>(cap) && r.met();
}

// Tables are ordered scalar first, so the last qualifying entry is the fastest.
template <typename K, typename Pred>
const K* best(std::span<const K> table, Isa cap, Pred pred) {
  const K* found = nullptr;
  for (const K& k : table)
    if (pred(k) && within(k.needs, cap)) found = &k;
  return found;
}

}  // namespace

bool KernelRequirement::met() const {
  const CpuFeatures& f = cpu_features();
  return f.supports(isa) && (!vbmi || f.avx512_vbmi);
}

std::span<const DenseKernel> dense_kernels() { return kDense; }
std::span<const SparseGemvKernel> sparse_gemv_kernels() { return kSparseGemv; }
std::span<const SparseGemmKernel> sparse_gemm_kernels() { return kSparseGemm; }
std::span<const QuantizeKernel> quantize_kernels() { return kQuantize; }

// Every format has a scalar GEMM, which always qualifies; GEMV entries are optional.
const DenseKernel& best_dense(WeightFormat f, KernelOp op, Isa cap) {
  const auto of = [&](KernelOp o) {
    return best(dense_kernels(), cap, [&](const DenseKernel& k) { return k.format == f && k.op == o; });
  };
  const DenseKernel* k = of(op);
  return k ? *k : *of(KernelOp::gemm);
}
const SparseGemvKernel& best_sparse_gemv(Isa cap) {
  return *best(sparse_gemv_kernels(), cap, [](const SparseGemvKernel&) { return true; });
}
const SparseGemmKernel& best_sparse_gemm(Isa cap) {
  return *best(sparse_gemm_kernels(), cap, [](const SparseGemmKernel&) { return true; });
}
const QuantizeKernel& best_quantize(Isa cap) {
  return *best(quantize_kernels(), cap, [](const QuantizeKernel&) { return true; });
}

}  // namespace stern::kernels
