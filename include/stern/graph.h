// The in-memory model: a graph of operators over named values, plus constant tensors
// (weights, biases, BatchNorm parameters) whose payloads are in one of the encodings of
// encoding.h. This is what the .stern container stores, what importers and exporters
// produce, and what the runtime executes. Operator semantics are specified in docs/FORMAT.md.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "stern/encoding.h"

namespace stern {

// Stored ids are part of the file format: append, never renumber.
enum class OpType : uint16_t {
  conv2d = 0,           // in: x, weight (OHWI), [bias]; attrs strides, pads, dilations, groups
  linear = 1,           // in: x [N, I], weight [O, I], [bias]; y = x W^T + b
  batch_norm = 2,       // in: x, scale, bias, mean, var; attr epsilon
  relu = 3,
  max_pool = 4,         // attrs kernel, strides, pads, ceil_mode
  avg_pool = 5,         // attrs kernel, strides, pads, ceil_mode, count_include_pad
  global_avg_pool = 6,
  add = 7,              // elementwise, numpy broadcasting
  concat = 8,           // attr axis
  flatten = 9,          // attr axis (default 1)
  softmax = 10,         // attr axis (default -1)
  // Added for ONNX import (docs/ONNX.md):
  mul = 11,             // elementwise, numpy broadcasting
  clip = 12,            // attrs min, max (double; absent = unbounded)
  reshape = 13,         // attr shape (ints; 0 copies the input dim, one -1 is inferred)
  matmul = 14,          // in: a, b; numpy matmul (batched, broadcasting leading dims)
  gemm = 15,            // in: a [M,K], b [K,N], [c]; attrs trans_a, trans_b, alpha, beta
};
inline constexpr int kOpTypeCount = 16;
const char* op_name(OpType op);
OpType op_from_name(const std::string& name);  // throws stern::Error on unknown names

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;
using Attributes = std::map<std::string, AttrValue>;

// Typed attribute access with defaults; a present attribute of the wrong type throws.
int64_t attr_int(const Attributes& a, const std::string& key, int64_t fallback);
double attr_float(const Attributes& a, const std::string& key, double fallback);
std::string attr_string(const Attributes& a, const std::string& key, const std::string& fallback);
std::vector<int64_t> attr_ints(const Attributes& a, const std::string& key,
                               const std::vector<int64_t>& fallback);

// A constant tensor. The payload may point into a memory-mapped file kept alive by `owner`.
struct Tensor {
  std::string name;
  Encoding encoding = Encoding::f32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> payload;
  std::shared_ptr<const void> owner;

  int64_t numel() const;
  // Rows = shape[0], cols = product of the rest (the weight-matrix view of encoding.h).
  int64_t rows() const;
  int64_t cols() const;

  static Tensor from_bytes(std::string name, Encoding e, std::vector<int64_t> shape,
                           std::vector<uint8_t> bytes);
  static Tensor from_floats(std::string name, std::vector<int64_t> shape,
                            std::span<const float> values);
  // Dequantized contents, rows * cols floats, whatever the encoding.
  std::vector<float> to_floats() const;
};

struct Node {
  OpType op = OpType::relu;
  std::string name;
  std::vector<std::string> inputs;   // graph inputs, other nodes' outputs or tensor names
  std::vector<std::string> outputs;
  Attributes attrs;
};

// A graph input or output. Dimension -1 is free (the batch dimension).
struct ValueInfo {
  std::string name;
  std::vector<int64_t> shape;
};

struct Graph {
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::vector<Node> nodes;
  std::vector<Tensor> tensors;
  Attributes metadata;  // free-form: producer, recipe, dataset, accuracy...

  const Tensor* find_tensor(const std::string& name) const;
  Tensor* find_tensor(const std::string& name);
};

}  // namespace stern
