// graph.h helpers: operator names, typed attribute access, tensor views.
#include "stern/graph.h"

#include <array>
#include <utility>

#include "format/checked.h"
#include "stern/error.h"

namespace stern {
namespace {

// Indexed by the stored OpType id; the names are the public spelling in JSON, docs and errors.
constexpr std::array<const char*, kOpTypeCount> kOpNames = {
    "conv2d", "linear",          "batch_norm", "relu",   "max_pool", "avg_pool",
    "global_avg_pool", "add", "concat",     "flatten", "softmax", "mul",      "clip",
    "reshape",         "matmul", "gemm",
};

template <typename T>
const T* find_typed(const Attributes& a, const std::string& key, const char* expected) {
  const auto it = a.find(key);
  if (it == a.end()) return nullptr;
  const T* value = std::get_if<T>(&it->second);
  if (value == nullptr) fail("attribute '" + key + "'", std::string("expected ") + expected);
  return value;
}

}  // namespace

const char* op_name(OpType op) {
  const auto i = static_cast<size_t>(op);
  return i < kOpNames.size() ? kOpNames[i] : "unknown";
}

OpType op_from_name(const std::string& name) {
  for (size_t i = 0; i < kOpNames.size(); ++i) {
    if (name == kOpNames[i]) return static_cast<OpType>(i);
  }
  std::string valid;
  for (const char* n : kOpNames) valid += (valid.empty() ? "" : ", ") + std::string(n);
  fail("operator '" + name + "'", "unknown; expected one of " + valid);
}

int64_t attr_int(const Attributes& a, const std::string& key, int64_t fallback) {
  const auto* v = find_typed<int64_t>(a, key, "an integer");
  return v != nullptr ? *v : fallback;
}

double attr_float(const Attributes& a, const std::string& key, double fallback) {
  const auto* v = find_typed<double>(a, key, "a float");
  return v != nullptr ? *v : fallback;
}

std::string attr_string(const Attributes& a, const std::string& key, const std::string& fallback) {
  const auto* v = find_typed<std::string>(a, key, "a string");
  return v != nullptr ? *v : fallback;
}

std::vector<int64_t> attr_ints(const Attributes& a, const std::string& key,
                               const std::vector<int64_t>& fallback) {
  const auto* v = find_typed<std::vector<int64_t>>(a, key, "a list of integers");
  return v != nullptr ? *v : fallback;
}

int64_t Tensor::numel() const { return checked_numel(shape, "tensor '" + name + "'"); }

int64_t Tensor::rows() const { return shape.empty() ? 1 : shape[0]; }

int64_t Tensor::cols() const {
  const int64_t r = rows();
  return r == 0 ? 0 : numel() / r;
}

Tensor Tensor::from_bytes(std::string name, Encoding e, std::vector<int64_t> shape,
                          std::vector<uint8_t> bytes) {
  auto storage = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  Tensor t;
  t.name = std::move(name);
  t.encoding = e;
  t.shape = std::move(shape);
  t.payload = std::span<const uint8_t>(storage->data(), storage->size());
  t.owner = std::move(storage);
  return t;
}

Tensor Tensor::from_floats(std::string name, std::vector<int64_t> shape,
                           std::span<const float> values) {
  const int64_t n = checked_numel(shape, "tensor '" + name + "'");
  if (n != static_cast<int64_t>(values.size())) {
    fail("tensor '" + name + "'", "shape holds " + std::to_string(n) + " values but " +
                                      std::to_string(values.size()) + " were given");
  }
  return from_bytes(std::move(name), Encoding::f32, std::move(shape), pack_f32(values));
}

std::vector<float> Tensor::to_floats() const {
  return dequantize(encoding, payload, rows(), cols(), "tensor '" + name + "'");
}

const Tensor* Graph::find_tensor(const std::string& name) const {
  for (const Tensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Tensor* Graph::find_tensor(const std::string& name) {
  return const_cast<Tensor*>(std::as_const(*this).find_tensor(name));
}

}  // namespace stern
