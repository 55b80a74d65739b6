// Layer providers (layer.h) for the integer kernels of src/kernels:
//   "ternary"        automatic: dense or sparse ternary, whichever the cost model says
//   "ternary_dense"  2-bit VNNI / maddubs GEMM and GEMV
//   "ternary_sparse" multiply-free add/sub over per-row column lists
//   "int8"           u8s8 VNNI GEMM
// Ternary covers every encoding whose codes are in {-1, 0, 1} (ternary2, ternary_sparse,
// and signed_binary / binary until their own kernels take them). Layers need act_bits in
// 2..8; others fall through to the f32 reference.
#include <cmath>

#include "kernels/igemm.h"
#include "kernels/qmatmul.h"
#include "runtime/layer.h"
#include "runtime/int_layers.h"

namespace stern {
namespace {

using kernels::IntLayer;
using kernels::Method;

bool ternary_encoding(Encoding e) {
  return e == Encoding::ternary2 || e == Encoding::ternary_sparse ||
         e == Encoding::signed_binary || e == Encoding::binary;
}

WeightMatrix weight_matrix(const LayerDesc& d) {
  const Tensor& w = *d.weight;
  return encoding_traits(w.encoding).unpack(w.payload, w.rows(), w.cols(), d.where + " weight");
}

// Linear layers are 1x1 convolutions over 1x1 images (qmatmul.h).
ConvGeometry geometry(const LayerDesc& d) {
  if (d.op == OpType::conv2d) return d.conv;
  ConvGeometry g;
  g.in_c = d.in_features, g.in_h = g.in_w = 1;
  g.out_c = d.weight->rows(), g.out_h = g.out_w = 1;
  return g;
}

class IntKernelLayer final : public Layer {
 public:
  IntKernelLayer(const LayerDesc& d, const WeightMatrix& w, Method method, const SessionOptions&)
      : layer_(w, geometry(d), d.act, d.out_scale, d.bias, d.relu, {method, cpu_features().best()},
               d.where),
        method_(method) {}
  std::string kernel_name() const override {
    return std::string(kernels::method_name(method_)) + ":" + layer_.kernel_name(1);
  }
  size_t scratch_floats(int64_t, int) const override { return 0; }
  void run(const float* in, float* out, int64_t batch, ThreadPool& pool, float*) override {
    layer_.run(in, out, batch, pool);
  }
  void reserve_slots(int slots) override { layer_.reserve_slots(slots); }
  std::vector<CodeFormat> code_inputs() const override { return layer_.code_inputs(); }
  bool emit_codes(const CodeFormat& format) override { return layer_.emit_codes(format); }
  void take_codes(const CodeFormat& format) override { layer_.take_codes(format); }

 private:
  IntLayer layer_;
  Method method_;
};

bool quantized_input(const LayerDesc& d) { return d.act.bits >= 2 && d.act.bits <= 8; }

bool supports_ternary(const LayerDesc& d) {
  return quantized_input(d) && ternary_encoding(d.weight->encoding) &&
         IntLayer::supports(weight_matrix(d), d.act, Method::ternary_dense);
}

std::unique_ptr<Layer> create(const LayerDesc& d, const SessionOptions& o, Method m) {
  return std::make_unique<IntKernelLayer>(d, weight_matrix(d), m, o);
}

}  // namespace

TernaryCosts ternary_costs(Isa isa, bool small_codes) {
  // Plain AVX-512 runs the AVX2 dense kernels.
  TernaryCosts c = isa >= Isa::avx512_vnni ? kAvx512Costs : kAvx2Costs;
  // The VBMI sparse GEMV needs VBMI too (Cascade Lake has VNNI without it): else the AVX2 one,
  // or without AVX2 the scalar one.
  const kernels::SparseGemvKernel& gemv = kernels::best_sparse_gemv(isa);
  if (gemv.needs.isa == Isa::scalar)
    c.sparse_gemv_per_nonzero = kScalarSparseGemvPerNonzero, c.sparse_gemv_per_block = kScalarSparseGemvPerBlock;
  else if (!gemv.needs.vbmi)
    c.sparse_gemv_per_nonzero = kAvx2Costs.sparse_gemv_per_nonzero, c.sparse_gemv_per_block = kAvx2Costs.sparse_gemv_per_block;
  if (kernels::best_sparse_gemm(isa, small_codes).fn != kernels::best_sparse_gemm(isa).fn)
    c.sparse_gemm_per_nonzero *= kU4SparseGemmFactor;
  return c;
}

Method choose_ternary_method(const ConvGeometry& g, int64_t cols, double density, Isa isa, int64_t llc_bytes,
                             bool small_codes) {
  const double m = double(g.out_h) * g.out_w;  // batch-1 rows
  const double n = double(g.out_c), k = double(cols);
  const double blocks = std::ceil(k / 128.0);
  // Measured costs in ns (docs/KERNELS.md "cost model"): dense per weight and activation
  // row, sparse per non-zero and per (row, 128-column block) header, for one tile of 64
  // rows (GEMM) or one row (GEMV).
  TernaryCosts c = ternary_costs(isa, small_codes);
  if (kernels::sparse_planes_packed(g, small_codes, isa)) c.sparse_gemm_per_nonzero *= kP4SparseGemmFactor;
  const bool gemv = m == 1;
  const bool tile_gemm = kernels::ternary_on_tile_gemm(g, isa);
  const double n_dense = tile_gemm ? n : std::ceil(n / double(c.dense_channels)) * double(c.dense_channels);
  // A GEMV whose 2-bit weights pass the last-level cache streams them from DRAM: 2-2.5x its
  // cost per weight from L3 (the sparse GEMV, compute-bound, much less).
  const bool dram = gemv && n * k / 4 > double(llc_bytes);
  const double gemv_per_weight = dram ? c.dense_gemv_per_weight_dram : c.dense_gemv_per_weight;
  const double gemm_per_mac = tile_gemm ? kTileGemmNsPerMac : c.dense_gemm_per_mac;
  const double dense = kernels::dense_on_plane_conv(g, Method::ternary_dense, isa)
                           ? m * double(kernels::plane_conv_operands(g)) * n * kPlaneConvNsPerOperand
                           : n_dense * k * (gemv ? gemv_per_weight : m * gemm_per_mac);
  const double tiles = gemv ? 1.0 : std::ceil(m / 64.0);
  const bool strided = g.stride_h != 1 || g.stride_w != 1;
  const double planes = double(g.in_c) * double(g.in_h + g.pad_top + g.pad_bottom) * double(g.in_w + g.pad_left + g.pad_right);
  const double sparse = tiles * (density * n * k * (gemv ? c.sparse_gemv_per_nonzero : c.sparse_gemm_per_nonzero) +
                                 n * blocks * (gemv ? c.sparse_gemv_per_block : c.sparse_gemm_per_block)) +
                        (strided ? planes * kStridedPlaneNsPerByte : 0.0);
  return sparse < dense ? Method::ternary_sparse : Method::ternary_dense;
}

// Ice Lake, 69% sparse, 1 thread, bitmap / lut against the sparse GEMM where the cost model
// picks it: 3x3 16->16 at 28x28 72 / 14 us, 16->32 at 28x28 82 / 23, 32->32 at 14x14 28 / 11;
// capped at AVX2 (sparse from ~41%): 256->256 at 14x14 1181 / 684, 64->64 at 28x28 669 / 174.
bool bitmap_conv_defers(const ConvGeometry& g, int64_t cols, double density, Isa isa, bool vnni_dual) {
  return kernels::bitmap_conv_runs_as_int8(g, isa, vnni_dual) ||
         choose_ternary_method(g, cols, density, isa) == Method::ternary_sparse;
}

extern const LayerProvider layer_provider_ternary = {
    "ternary",
    supports_ternary,
    [](const LayerDesc& d, const SessionOptions& o) {
      const WeightMatrix w = weight_matrix(d);
      const Method m = choose_ternary_method(geometry(d), w.cols, w.density(), cpu_features().best(),
                                             cpu_features().llc_bytes, small_codes(d.act));
      return std::unique_ptr<Layer>(std::make_unique<IntKernelLayer>(d, w, m, o));
    },
    nullptr,
};

extern const LayerProvider layer_provider_ternary_dense = {
    "ternary_dense",
    supports_ternary,
    [](const LayerDesc& d, const SessionOptions& o) { return create(d, o, Method::ternary_dense); },
    nullptr,
};

extern const LayerProvider layer_provider_ternary_sparse = {
    "ternary_sparse",
    supports_ternary,
    [](const LayerDesc& d, const SessionOptions& o) { return create(d, o, Method::ternary_sparse); },
    nullptr,
};

extern const LayerProvider layer_provider_int8 = {
    "int8",
    [](const LayerDesc& d) {
      return quantized_input(d) && d.weight->encoding == Encoding::i8 &&
             IntLayer::supports(weight_matrix(d), d.act, Method::int8);
    },
    [](const LayerDesc& d, const SessionOptions& o) { return create(d, o, Method::int8); },
    nullptr,
};

}  // namespace stern
