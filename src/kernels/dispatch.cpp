// The one place an integer kernel is chosen for the CPU: tables built from kernels.inc,
// filtered by stern::cpu_features().
#include <array>
#include <type_traits>

#include "kernels/igemm.h"

namespace stern::kernels {

// The function types of the Ukernel tables, by the kind names of kernels.inc.
namespace kind {
using sparse_gemv = std::remove_pointer_t<SparseGemvUkernel>;
using sparse_gemm = std::remove_pointer_t<SparseGemmUkernel>;
using sparse_gemm_u4 = sparse_gemm;
using sparse_gemm_p4 = sparse_gemm;
using quantize = std::remove_pointer_t<QuantizeUkernel>;
using quantize_nhwc = std::remove_pointer_t<QuantizeNhwcUkernel>;
using copy_rows = std::remove_pointer_t<CopyRowsUkernel>;
using deal_phases = std::remove_pointer_t<DealPhasesUkernel>;
using epilogue = std::remove_pointer_t<EpilogueUkernel>;
using epilogue_codes = std::remove_pointer_t<EpilogueCodesUkernel>;
using runs_epilogue = std::remove_pointer_t<RunsEpilogueUkernel>;
using conv = std::remove_pointer_t<ConvUkernel>;
using igemm = std::remove_pointer_t<IgemmUkernel>;
using plane_conv = std::remove_pointer_t<PlaneConvUkernel>;
using max_pool_2x2 = std::remove_pointer_t<MaxPool2x2Ukernel>;
}  // namespace kind

#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr)                              \
  void name(size_t m, size_t kblocks, const uint8_t* a, size_t lda, const uint8_t* w,   \
            size_t panel_stride, size_t npanels, int32_t* c, size_t ldc);
#define STERN_UKERNEL(kind_, name, isa, vbmi) kind::kind_ name;
#include "kernels/kernels.inc"
#undef STERN_DENSE_UKERNEL
#undef STERN_UKERNEL

namespace {

constexpr DenseKernel kDense[] = {
#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr) \
  {#name, WeightFormat::format, KernelOp::op, {Isa::isa, vbmi}, mr, name},
#define STERN_UKERNEL(kind_, name, isa, vbmi)
#include "kernels/kernels.inc"
#undef STERN_DENSE_UKERNEL
#undef STERN_UKERNEL
};

// Every Ukernel row with its function in the member of its kind (the others null).
struct Row {
  const char* name;
  KernelRequirement needs;
  SparseGemvUkernel sparse_gemv = nullptr;
  SparseGemmUkernel sparse_gemm = nullptr;
  SparseGemmUkernel sparse_gemm_u4 = nullptr;
  SparseGemmUkernel sparse_gemm_p4 = nullptr;
  QuantizeUkernel quantize = nullptr;
  QuantizeNhwcUkernel quantize_nhwc = nullptr;
  CopyRowsUkernel copy_rows = nullptr;
  DealPhasesUkernel deal_phases = nullptr;
  EpilogueUkernel epilogue = nullptr;
  EpilogueCodesUkernel epilogue_codes = nullptr;
  RunsEpilogueUkernel runs_epilogue = nullptr;
  ConvUkernel conv = nullptr;
  IgemmUkernel igemm = nullptr;
  PlaneConvUkernel plane_conv = nullptr;
  MaxPool2x2Ukernel max_pool_2x2 = nullptr;
};
constexpr Row kRows[] = {
#define STERN_DENSE_UKERNEL(name, format, op, isa, vbmi, mr)
// (`fn`, not `name`: a macro parameter `name` would replace the designator .name too.)
#define STERN_UKERNEL(kind_, fn, isa, vbmi) {.name = #fn, .needs = {Isa::isa, vbmi}, .kind_ = fn},
#include "kernels/kernels.inc"
#undef STERN_DENSE_UKERNEL
#undef STERN_UKERNEL
};

// The table of one kind: the rows whose `Member` is set, in kernels.inc order.
template <auto Member>
constexpr auto table() {
  using Fn = std::remove_cvref_t<decltype(kRows[0].*Member)>;
  constexpr size_t n = [] {
    size_t c = 0;
    for (const Row& r : kRows) c += r.*Member != nullptr;
    return c;
  }();
  std::array<Ukernel<Fn>, n> out{};
  size_t i = 0;
  for (const Row& r : kRows)
    if (r.*Member) out[i++] = {r.name, r.needs, r.*Member};
  return out;
}
constexpr auto kSparseGemv = table<&Row::sparse_gemv>();
constexpr auto kSparseGemm = table<&Row::sparse_gemm>();
constexpr auto kSparseGemmU4 = table<&Row::sparse_gemm_u4>();
constexpr auto kSparseGemmP4 = table<&Row::sparse_gemm_p4>();
constexpr auto kQuantize = table<&Row::quantize>();
constexpr auto kQuantizeNhwc = table<&Row::quantize_nhwc>();
constexpr auto kCopyRows = table<&Row::copy_rows>();
constexpr auto kDealPhases = table<&Row::deal_phases>();
constexpr auto kEpilogue = table<&Row::epilogue>();
constexpr auto kEpilogueCodes = table<&Row::epilogue_codes>();
constexpr auto kRunsEpilogue = table<&Row::runs_epilogue>();
constexpr auto kConv = table<&Row::conv>();
constexpr auto kIgemm = table<&Row::igemm>();
constexpr auto kPlaneConv = table<&Row::plane_conv>();
constexpr auto kMaxPool2x2 = table<&Row::max_pool_2x2>();

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
// Ukernel tables have a scalar entry, which always qualifies.
template <typename K>
const K& best_of(std::span<const K> table, Isa cap) {
  return *best(table, cap, [](const K&) { return true; });
}

}  // namespace

bool KernelRequirement::met() const {
  const CpuFeatures& f = cpu_features();
  return f.supports(isa) && (!vbmi || f.avx512_vbmi);
}

std::span<const DenseKernel> dense_kernels() { return kDense; }
std::span<const SparseGemvKernel> sparse_gemv_kernels() { return kSparseGemv; }
std::span<const SparseGemmKernel> sparse_gemm_kernels() { return kSparseGemm; }
std::span<const SparseGemmKernel> sparse_gemm_u4_kernels() { return kSparseGemmU4; }
std::span<const SparseGemmKernel> sparse_gemm_p4_kernels() { return kSparseGemmP4; }
std::span<const QuantizeKernel> quantize_kernels() { return kQuantize; }
std::span<const QuantizeNhwcKernel> quantize_nhwc_kernels() { return kQuantizeNhwc; }
std::span<const CopyRowsKernel> copy_rows_kernels() { return kCopyRows; }
std::span<const DealPhasesKernel> deal_phases_kernels() { return kDealPhases; }
std::span<const EpilogueKernel> epilogue_kernels() { return kEpilogue; }
std::span<const EpilogueCodesKernel> epilogue_codes_kernels() { return kEpilogueCodes; }
std::span<const RunsEpilogueKernel> runs_epilogue_kernels() { return kRunsEpilogue; }
std::span<const ConvKernel> conv_kernels() { return kConv; }
std::span<const IgemmKernel> igemm_kernels() { return kIgemm; }
std::span<const PlaneConvKernel> plane_conv_kernels() { return kPlaneConv; }
std::span<const MaxPool2x2Kernel> max_pool_2x2_kernels() { return kMaxPool2x2; }

// Every format has a scalar GEMM, which always qualifies; GEMV entries are optional.
const DenseKernel& best_dense(WeightFormat f, KernelOp op, Isa cap) {
  const auto of = [&](KernelOp o) {
    return best(dense_kernels(), cap, [&](const DenseKernel& k) { return k.format == f && k.op == o; });
  };
  const DenseKernel* k = of(op);
  return k ? *k : *of(KernelOp::gemm);
}
const SparseGemvKernel& best_sparse_gemv(Isa cap) { return best_of(sparse_gemv_kernels(), cap); }
// The u4 kernel only at the general one's ISA: there is none for AVX-512 (its walk is bound
// by the split loads, and summing bytes first was 6% slower), and the AVX2 one is slower there.
const SparseGemmKernel& best_sparse_gemm(Isa cap, bool small_codes) {
  const SparseGemmKernel& general = best_of(sparse_gemm_kernels(), cap);
  const SparseGemmKernel& u4 = best_of(sparse_gemm_u4_kernels(), cap);
  return small_codes && u4.needs.isa == general.needs.isa ? u4 : general;
}
// Packed only at the general kernel's ISA: the scalar p4 kernel is slower than the AVX2 ones.
const SparseGemmKernel* best_sparse_gemm_p4(Isa cap) {
  const SparseGemmKernel& p4 = best_of(sparse_gemm_p4_kernels(), cap);
  return p4.needs.isa == best_of(sparse_gemm_kernels(), cap).needs.isa ? &p4 : nullptr;
}
const QuantizeKernel& best_quantize(Isa cap) { return best_of(quantize_kernels(), cap); }
const QuantizeNhwcKernel& best_quantize_nhwc(Isa cap) { return best_of(quantize_nhwc_kernels(), cap); }
const CopyRowsKernel& best_copy_rows(Isa cap) { return best_of(copy_rows_kernels(), cap); }
const DealPhasesKernel& best_deal_phases(Isa cap) { return best_of(deal_phases_kernels(), cap); }
const EpilogueKernel& best_epilogue(Isa cap) { return best_of(epilogue_kernels(), cap); }
const EpilogueCodesKernel& best_epilogue_codes(Isa cap) { return best_of(epilogue_codes_kernels(), cap); }
const RunsEpilogueKernel& best_runs_epilogue(Isa cap) { return best_of(runs_epilogue_kernels(), cap); }
const ConvKernel& best_conv(Isa cap) { return best_of(conv_kernels(), cap); }
const IgemmKernel& best_igemm(Isa cap) { return best_of(igemm_kernels(), cap); }
const PlaneConvKernel& best_plane_conv(Isa cap) { return best_of(plane_conv_kernels(), cap); }
const MaxPool2x2Kernel& best_max_pool_2x2(Isa cap) { return best_of(max_pool_2x2_kernels(), cap); }

}  // namespace stern::kernels
