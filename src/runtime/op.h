// How the executor talks to operators. Each operator lives in one file under ops/ and is
// reached through the table in ops/ops.inc (a static library drops self-registering
// objects nobody references, so the table is explicit): adding an operator is adding a
// file and a line there.
//
// Layout: every value is float32 and row-major in its logical shape, i.e. NCHW for images,
// exactly as the graph's inputs and outputs are defined; ops need no layout translation.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"
#include "stern/graph.h"
#include "stern/runtime.h"
#include "stern/shape.h"

namespace stern {

// A BatchNorm as a per-channel affine map y = x * scale[c] + shift[c].
struct ChannelAffine {
  std::vector<float> scale, shift;
};
// From a batch_norm node whose scale, bias, mean and var inputs are constant tensors.
ChannelAffine batch_norm_affine(const Node& bn, const Graph& graph, const std::string& where);

struct OpBuild {
  const Node& node;                       // after fusion: attrs may hold activation = "relu"
  const Graph& graph;
  std::vector<const Tensor*> constants;   // per input: the tensor if the input is constant
  std::vector<Shape> in_shapes;           // at batch 1 (a free batch dimension set to 1)
  std::vector<Shape> out_shapes;
  const ChannelAffine* folded_bn;         // conv2d / linear only: a BatchNorm folded in
  const SessionOptions& options;
  std::string where;                      // "node 'conv1' (conv2d)" for error messages
};

struct RunArgs {
  std::span<const float* const> in;       // null for constant inputs (ops keep their own)
  std::span<const Shape> in_shapes;       // at the running batch size
  std::span<float* const> out;
  std::span<const Shape> out_shapes;
  ThreadPool& pool;
  float* scratch;                         // scratch_floats() floats, 64-byte aligned
};

class Layer;  // runtime/layer.h

class OpKernel {
 public:
  virtual ~OpKernel() = default;
  // conv2d and linear: the weight layer that runs them (for the session's code hand-off).
  virtual Layer* weight_layer() { return nullptr; }
  virtual std::string kernel_name() const = 0;
  virtual std::string encoding() const { return "f32"; }
  virtual size_t scratch_floats(std::span<const Shape> /*in_shapes*/, int /*threads*/) const {
    return 0;
  }
  virtual void run(const RunArgs& args) = 0;
};

using OpFactory = std::unique_ptr<OpKernel> (*)(const OpBuild& build);
OpFactory op_factory(OpType op);

// Small shared helpers for ops.
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);
// Normalizes a possibly negative axis against `rank`; throws naming `where` when out of range.
int64_t normalize_axis(int64_t axis, size_t rank, const std::string& where);
// Reads a constant input as floats (any encoding), checking its element count.
std::vector<float> constant_floats(const Tensor& t, int64_t expected, const std::string& where);

}  // namespace stern
