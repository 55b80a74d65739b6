// Elementwise binary operators with numpy broadcasting, shared by the arithmetic ops. Either
// operand may be a constant tensor captured at build time.
#pragma once
#include <vector>

#include "runtime/op.h"

namespace stern {

// Checks that both input shapes broadcast to the output and captures constant operands.
std::vector<float> broadcast_operand(const OpBuild& b, size_t i);

template <typename Fn>
class BroadcastBinary final : public OpKernel {
 public:
  BroadcastBinary(const char* name, std::vector<float> ca, std::vector<float> cb)
      : name_(name), constant_{std::move(ca), std::move(cb)} {}
  std::string kernel_name() const override { return name_; }

  void run(const RunArgs& r) override {
    const Fn fn;
    const float* a = r.in[0] ? r.in[0] : constant_[0].data();
    const float* b = r.in[1] ? r.in[1] : constant_[1].data();
    float* y = r.out[0];
    const Shape& out = r.out_shapes[0];
    const size_t rank = out.size();
    if (r.in_shapes[0] == out && r.in_shapes[1] == out) {
      const int64_t n = shape_numel(out);
      for (int64_t i = 0; i < n; ++i) y[i] = fn(a[i], b[i]);
      return;
    }
    // Element strides of each operand in the output's index space (0 where broadcast).
    std::vector<int64_t> sa(rank, 0), sb(rank, 0);
    for (int side = 0; side < 2; ++side) {
      const Shape& s = r.in_shapes[side];
      std::vector<int64_t>& st = side ? sb : sa;
      int64_t stride = 1;
      for (size_t i = 0; i < s.size(); ++i) {
        const size_t d = s.size() - 1 - i;
        if (s[d] != 1) st[rank - 1 - i] = stride;
        stride *= s[d];
      }
    }
    const int64_t inner = rank ? out[rank - 1] : 1;
    const int64_t ia = rank ? sa[rank - 1] : 0, ib = rank ? sb[rank - 1] : 0;
    std::vector<int64_t> idx(rank, 0);
    const int64_t rows = inner ? shape_numel(out) / inner : 0;
    for (int64_t row = 0; row < rows; ++row) {
      int64_t oa = 0, ob = 0;
      for (size_t d = 0; d + 1 < rank; ++d) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
      for (int64_t j = 0; j < inner; ++j) y[row * inner + j] = fn(a[oa + j * ia], b[ob + j * ib]);
      for (size_t d = rank - 1; d-- > 0;) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
  }

 private:
  const char* name_;
  std::vector<float> constant_[2];
};

}  // namespace stern
