// The planner: fusion (BatchNorm folded into the preceding conv2d / linear, ReLU into its
// epilogue), topological order, value lifetimes, and the buffer arena. Batch-independent
// except assign_buffers, which the session reruns when the batch size changes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "runtime/op.h"
#include "stern/graph.h"
#include "stern/shape.h"

namespace stern {

struct Value {
  std::string name;
  Shape shape;                      // dimension 0 is -1 when it is the free batch dimension
  const Tensor* constant = nullptr; // constant tensors have no buffer
  int producer = -1;                // step index; -1 for graph inputs and constants
  int last_use = -1;                // last step reading it; INT_MAX for graph outputs
};

struct Step {
  Node node;                        // the graph node after fusion (outputs, activation)
  std::string where;                // "node 'conv1' (conv2d)"
  std::string fused_name;           // "conv2d+batch_norm+relu"
  std::optional<ChannelAffine> folded_bn;
  std::vector<int> inputs, outputs; // value ids
};

struct Plan {
  std::vector<Value> values;
  std::vector<Step> steps;          // topological order
  std::vector<int> graph_inputs, graph_outputs;
};

// Throws stern::Error naming the node on undefined inputs, cycles or duplicate outputs.
Plan make_plan(const Graph& graph);

struct Arena {
  std::vector<size_t> offsets;      // per value, in floats, 64-byte aligned
  size_t floats = 0;                // peak
};

// Greedy best-fit by lifetime: a value's buffer is reused once its last reader has run.
// A step's outputs never share memory with its inputs.
Arena assign_buffers(const Plan& plan, const std::vector<size_t>& value_floats);

}  // namespace stern
