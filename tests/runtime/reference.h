// Independent references for the runtime tests: naive NCHW operators written directly from
// their definitions (double accumulation, no im2col, no GEMM, no shared code with
// src/runtime), and a small graph builder.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "stern/graph.h"
#include "stern/runtime.h"

namespace stern::test {

using Floats = std::vector<float>;
using Dims = std::vector<int64_t>;

Floats random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f);
int64_t numel(const Dims& d);

struct ConvParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};
// x [N, C, H, W]; w OHWI [O, KH, KW, C/groups]; bias [O] or empty.
FloatTensor conv2d_ref(const FloatTensor& x, const Floats& w, const Dims& w_shape,
                       const Floats& bias, const ConvParams& p);
// x [N, I]; w [O, I].
FloatTensor linear_ref(const FloatTensor& x, const Floats& w, int64_t out, const Floats& bias);
FloatTensor batch_norm_ref(const FloatTensor& x, const Floats& scale, const Floats& bias,
                           const Floats& mean, const Floats& var, double eps);
FloatTensor relu_ref(FloatTensor x);
struct PoolParams {
  int64_t kernel_h, kernel_w, stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false, count_include_pad = false;
};
FloatTensor max_pool_ref(const FloatTensor& x, const PoolParams& p);
FloatTensor avg_pool_ref(const FloatTensor& x, const PoolParams& p);
FloatTensor global_avg_pool_ref(const FloatTensor& x);
FloatTensor add_ref(const FloatTensor& a, const FloatTensor& b);
FloatTensor concat_ref(const std::vector<FloatTensor>& xs, int64_t axis);
FloatTensor softmax_ref(const FloatTensor& x, int64_t axis);
// The brief's activation quantizer, written from its text.
float fake_quant_ref(float x, int bits, double scale, bool is_signed);

FloatTensor random_tensor(Dims shape, uint32_t seed);

// Builds a graph node by node; outputs() fills the declared output shapes by inference.
struct GraphBuilder {
  Graph g;
  GraphBuilder& input(const std::string& name, Dims shape);
  GraphBuilder& tensor(const std::string& name, Dims shape, const Floats& values);
  GraphBuilder& node(OpType op, const std::string& name, std::vector<std::string> inputs,
                     const std::string& output, Attributes attrs = {});
  Graph done(std::vector<std::string> outputs);
};

SessionOptions options(int threads, bool reference_only = false, std::string kernel = "");

// Max |a - b| relative to max(1, max |b|).
double max_rel_diff(const FloatTensor& a, const FloatTensor& b);

}  // namespace stern::test
