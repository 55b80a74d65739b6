// The hook for weight layers (conv2d, linear): how integer kernels plug into the runtime.
//
// At load the planner describes each conv2d / linear node as a LayerDesc (encoded weight,
// geometry, BatchNorm folded into a per-channel scale and bias, activation quantization,
// fused ReLU) and asks the providers of layer_providers.inc, in order, whether they support
// it. The first that does creates the Layer: prepare happens in its constructor (pack
// weights once), run() is called for every batch. The provider "f32" (ops/conv2d.cpp,
// ops/linear.cpp) supports everything and is the reference path: it dequantizes the
// weights with stern::dequantize, folds out_scale into them, fake-quantizes the input with
// quantize_activation() below, and runs an FP32 GEMM. Integer kernels must agree with it
// (bit-exact integer accumulation, float epilogue to ~1e-5 relative).
//
// To add a kernel family: write a provider {name, supports, create} in your own files and
// append one STERN_LAYER_PROVIDER(<name>) line to layer_providers.inc, before "f32"; the
// provider object is `extern const LayerProvider layer_provider_<name>`.
// A provider that supports a layer but is slower on it than a later one (the bitmap kernels
// against the AMX tile convolution) says so in `defers`.
// SessionOptions::reference_only skips every provider but "f32" (with the scalar GEMM);
// SessionOptions::kernel_override = "<name>" puts that provider first for the layers it
// supports (an unknown name is an error).
#pragma once
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"
#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern {

// Activation quantization of a layer's input (graph.h attributes act_bits, act_scale,
// act_signed, act_zero_point). bits == 0: float input. Codes q lie in [qmin, qmax] and
// stand for (q - zero_point) * scale, as ONNX QuantizeLinear / DequantizeLinear define them.
struct ActQuant {
  int bits = 0;
  float scale = 0.0f;
  bool is_signed = false;
  int32_t qmin = 0, qmax = 0;
  int32_t zero_point = 0;
};

// The one definition of the activation quantizer; integer kernels must use it so that the
// codes match the reference bit for bit. Division in float (as LibTorch does on float32
// tensors), round half to even (nearbyint under the default rounding mode), plus the zero
// point, then clamp.
inline int32_t quantize_activation(float x, const ActQuant& q) {
  const float r = std::nearbyint(x / q.scale) + static_cast<float>(q.zero_point);
  if (!(r >= static_cast<float>(q.qmin))) return q.qmin;  // also maps NaN to qmin
  if (r > static_cast<float>(q.qmax)) return q.qmax;
  return static_cast<int32_t>(r);
}
// At most 16 levels (codes of at most 4 bits): bytes q - qmin fit in 4 bits, which the sparse
// GEMM's u4 kernel sums in bytes.
inline bool small_codes(const ActQuant& q) { return q.qmax - q.qmin <= 15; }
inline float fake_quantize_activation(float x, const ActQuant& q) {
  return static_cast<float>(quantize_activation(x, q) - q.zero_point) * q.scale;
}

// The same quantizer with codes centred on the zero point: q - zero_point in
// [qmin - zero_point, qmax - zero_point], zero point 0. Integer kernels multiply these, so a
// zero point costs them nothing: they store q - zero_point + add, i.e. q + (add + zero_point),
// and correct by that offset like any other.
inline ActQuant centered(const ActQuant& q) {
  ActQuant c = q;
  c.qmin -= q.zero_point, c.qmax -= q.zero_point, c.zero_point = 0;
  return c;
}

struct ConvGeometry {
  int64_t in_c = 0, in_h = 0, in_w = 0;
  int64_t out_c = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

struct LayerDesc {
  OpType op = OpType::conv2d;
  std::string where;            // for error messages: "node 'conv1' (conv2d)"
  const Tensor* weight = nullptr;  // encoded; conv2d OHWI [O, KH, KW, I/groups], linear [O, I]
  // y[o] = out_scale[o] * sum(x_hat * w_hat) + bias[o], then ReLU if relu. out_scale is 1
  // unless a BatchNorm was folded in; bias already includes the BatchNorm shift.
  std::vector<float> out_scale;
  std::vector<float> bias;
  ActQuant act;
  bool relu = false;
  ConvGeometry conv;            // conv2d
  int64_t in_features = 0;      // linear (out_features = weight->rows())
};

// The bytes an integer layer wants its input activations in when the previous layer hands
// them over already quantized (Layer::code_inputs): byte = clamp(nearbyint(x / act.scale),
// act.qmin, act.qmax) + add, i.e. quantize_activation with `act` (centred on the zero point)
// plus an offset; by pixel (NHWC: the dense methods' images), by channel plane (NCHW), or
// straight in the sparse GEMM's padded planes (`planes`: the reader then copies nothing).
enum class CodeLayout { nhwc, nchw, planes };
struct CodeFormat {
  ActQuant act;
  int32_t add = 0;
  CodeLayout layout = CodeLayout::nhwc;
  // planes: the code of channel c, row y, column x is byte c * plane_stride + origin +
  // y * row_pitch + x; every other byte up to in_c * plane_stride + origin (the padding and
  // the slack between planes) is `add`, the code of 0.
  int64_t row_pitch = 0, plane_stride = 0, origin = 0;
};

// Byte of channel c, pixel (y, x) of a channels x h x w image in format f.
inline int64_t code_offset(const CodeFormat& f, int64_t channels, int64_t h, int64_t w, int64_t c, int64_t y,
                           int64_t x) {
  switch (f.layout) {
    case CodeLayout::nhwc: return (y * w + x) * channels + c;
    case CodeLayout::nchw: return (c * h + y) * w + x;
    case CodeLayout::planes: return c * f.plane_stride + f.origin + y * f.row_pitch + x;
  }
  return 0;
}

class Layer {
 public:
  virtual ~Layer() = default;
  // Requantization in the epilogue (docs/RUNTIME.md "Codes between layers"): a layer that
  // can take its input as CodeFormat bytes lists the formats here, best first; the session
  // asks the producing layer to emit_codes in each until one is accepted (true: from now on
  // run() writes those bytes, per image from the start of each image's float slot, instead
  // of floats) and tells the reader to take_codes in that format (run() then reads them). A
  // layer that cannot keeps the defaults.
  virtual std::vector<CodeFormat> code_inputs() const { return {}; }
  virtual bool emit_codes(const CodeFormat&) { return false; }
  virtual void take_codes(const CodeFormat&) {}
  virtual std::string kernel_name() const = 0;
  // Floats of scratch run() needs for `batch` images with `threads` threads.
  virtual size_t scratch_floats(int64_t batch, int threads) const = 0;
  // in: [batch, C, H, W] (conv2d) or [batch, I] (linear), float32; out likewise.
  virtual void run(const float* in, float* out, int64_t batch, ThreadPool& pool,
                   float* scratch) = 0;
  // A layer that keeps buffers per thread (by ThreadPool::slot_base() + thread, beyond the
  // session's scratch) makes them for `slots` threads here, so that pools with distinct slots
  // may then run it at the same time (the session's whole-network batches).
  virtual void reserve_slots(int /*slots*/) {}
};

struct LayerProvider {
  const char* name;
  bool (*supports)(const LayerDesc& desc);
  std::unique_ptr<Layer> (*create)(const LayerDesc& desc, const SessionOptions& options);
  // The automatic choice skips a supporting provider when this says a later one is faster
  // for the layer (null: never); kernel_override still reaches it.
  bool (*defers)(const LayerDesc& desc);
};

// Providers in priority order, "f32" last.
std::span<const LayerProvider* const> layer_providers();
std::unique_ptr<Layer> make_layer(const LayerDesc& desc, const SessionOptions& options);

// The f32 reference provider's two layers.
std::unique_ptr<Layer> make_f32_conv2d(const LayerDesc& desc, const SessionOptions& options);
std::unique_ptr<Layer> make_f32_linear(const LayerDesc& desc, const SessionOptions& options);

// Shared by the f32 layers: dequantized weights (out_scale folded in) and the input
// fake-quantized into `dst` (or `src` itself when the layer has no act_bits).
std::vector<float> dequantized_weights(const LayerDesc& desc);
const float* fake_quantize_input(const ActQuant& act, const float* src, float* dst, size_t n,
                                 ThreadPool& pool);

}  // namespace stern
