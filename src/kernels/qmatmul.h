// A quantized conv2d / linear layer on the integer kernels: weights packed once into the
// layout of one kernel family, then per batch: quantize the float input with the runtime's
// quantize_activation (exactly the reference's codes), im2col to the kernel's activation
// layout, integer products with int32 accumulation per scale group, and a float epilogue
// (weight scale x activation scale x folded BatchNorm scale, bias, ReLU) writing NCHW.
//
// Scale groups: a row of K columns has ceil(K / G) groups of G columns (G = K: one scale
// per row). Each group is padded to whole kernel blocks (qpack.h) so one kernel call covers
// one group, whose int32 sum is scaled in float. One group per row costs nothing; FGQ
// groups of N >= 16 cost one float multiply-add per N products.
//
// Asymmetric scales (alpha+ != alpha-) run as two parts summed in float:
// w = code * (a+ + a-) / 2 + |code| * (a+ - a-) / 2.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "kernels/igemm.h"
#include "runtime/layer.h"
#include "stern/encoding.h"

namespace stern::kernels {

enum class Method { ternary_dense, ternary_sparse, int8 };
const char* method_name(Method m);

// Every K up to kMaxCols is exact in int32 on every method (docs/KERNELS.md): the tightest
// is int8, |q * w| <= 255 * 127 and 255 * 127 * 65536 < 2^31.
inline constexpr int64_t kMaxCols = 65536;

struct IntLayerOptions {
  Method method = Method::ternary_dense;
  Isa isa = Isa::amx;  // cap: the best kernel the CPU supports at or below it
  // A convolution splits one image's work across threads, a linear layer its batch rows, only
  // when the estimated time on one thread is at least this (qmatmul.cpp; a sparse linear layer
  // over a batch by what the split saves instead, linear_split); 0 splits every one (tests).
  double split_min_ns = 30000;
  // L1 data cache for the sparse GEMM's channel blocking (qmatmul.cpp sparse_columns); 0:
  // the CPU's (tests pass sizes to take both paths).
  int64_t l1d_bytes = 0;
};

// Whether a dense ternary layer of this geometry runs on a tile GEMM (AMX) under `cap`: a
// convolution of at least kTileGemmMinRows output pixels on a CPU with one. Its ternary codes
// are then packed as int8 weights (4x the bytes of 2-bit) and its activations stored as the
// int8 method's, so that the int8 tile kernel does its products.
bool ternary_on_tile_gemm(const ConvGeometry& conv, Isa cap);
// Whether a dense ternary layer's codes are packed as int8 weights under `cap`: on a tile
// GEMM (above), or for a convolution of at least kTileGemmMinRows output pixels on the VNNI
// int8 GEMM, whose 6 x 64 tile needs no 2-bit expansion (1.2x the ternary2 8 x 32 GEMM on
// Ice Lake, docs/KERNELS.md). Linear layers and small convolutions keep 2 bits: the GEMV
// streams its weights.
bool ternary_as_int8(const ConvGeometry& conv, Isa cap);
// Whether a signed-binary or binary convolution runs faster on the ternary provider, its
// {-1, 0, 1} codes as int8 weights, than on the bitmap / lut kernels: on AMX's tile GEMM, and
// on the VNNI GEMM of a core that issues two VPDPBUSD per cycle (CpuFeatures::vnni_dual)
// while the int8 weights stay in L2.
bool bitmap_conv_runs_as_int8(const ConvGeometry& conv, Isa cap, bool vnni_dual);
// Whether a sparse ternary convolution walks packed planes (two 4-bit codes per byte, the
// sparse_gemm_p4 kernels) under `cap`: stride 1, at least 2 output rows, codes of at most 4
// bits, and a packed kernel at the ISA of the CPU's best sparse GEMM.
bool sparse_planes_packed(const ConvGeometry& conv, bool small_codes, Isa cap);

// A pixel's plane_conv operands: input channels x kernel rows x runs of at most 4 taps.
int64_t plane_conv_operands(const ConvGeometry& conv);
// Whether a dense (int8 or ternary) convolution of this geometry runs on plane_conv under
// `cap`, given symmetric weights and one scale group: stride 1, one conv group, at most 12
// operands (int8 without VNNI: 96), a tap span the kernel takes.
bool dense_on_plane_conv(const ConvGeometry& conv, Method method, Isa cap);

class IntLayer {
 public:
  // `w`: rows = out channels, cols = fan-in (kh, kw, in / groups) for conv2d, in for linear.
  // `conv`: the convolution (linear: a 1x1 convolution of in_c = in features over 1x1
  // images). `out_scale`, `bias`: per out channel (LayerDesc). Throws stern::Error naming
  // `where` when the codes do not fit the method, act.bits is not in 2..8, or K > kMaxCols.
  IntLayer(const WeightMatrix& w, const ConvGeometry& conv, const ActQuant& act,
           std::span<const float> out_scale, std::span<const float> bias, bool relu,
           const IntLayerOptions& options, const std::string& where);
  ~IntLayer();

  // Whether the codes of `w` fit `method` (ternary: all in {-1, 0, 1}) and act bits <= 8.
  static bool supports(const WeightMatrix& w, const ActQuant& act, Method method);

  // in: [batch, C, H, W] float; out: [batch, O, OH, OW] (linear: [batch, I] -> [batch, O]).
  // The layer's per-thread buffers of pool.slot_base() + thread are used.
  void run(const float* in, float* out, int64_t batch, ThreadPool& pool);
  // Per-thread buffers for `slots` threads made now: run() may then be called concurrently
  // by pools whose slots do not overlap (ThreadPool::slot_base).
  void reserve_slots(int slots);

  // The micro-kernel used for a batch of `batch` images.
  const char* kernel_name(int64_t batch) const;

  // Codes between layers (runtime/layer.h Layer::code_inputs): a convolution that builds a
  // padded NHWC image (dense methods) or padded channel planes (the sparse GEMM, stride 1)
  // takes its input as bytes in its own format, the sparse one also as its planes themselves
  // when they fit the input's float slot; a convolution with one weight part and one scale
  // group can write its output so (the planes only from a sparse stride-1 convolution of the
  // reader's padded width, whose output pixels are numbered as the reader's planes are).
  std::vector<CodeFormat> code_inputs() const;
  bool emit_codes(const CodeFormat& format);
  void take_codes(const CodeFormat& format);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stern::kernels
