// add with numpy broadcasting. Either operand may be a constant tensor.
#include "runtime/op.h"
#include "stern/error.h"

namespace stern {
namespace {

class Add final : public OpKernel {
 public:
  Add(std::vector<float> ca, std::vector<float> cb) : constant_{std::move(ca), std::move(cb)} {}
  std::string kernel_name() const override { return "add_broadcast"; }

  void run(const RunArgs& r) override {
    const float* a = r.in[0] ? r.in[0] : constant_[0].data();
    const float* b = r.in[1] ? r.in[1] : constant_[1].data();
    float* y = r.out[0];
    const Shape& out = r.out_shapes[0];
    const size_t rank = out.size();
    if (r.in_shapes[0] == out && r.in_shapes[1] == out) {
      const int64_t n = shape_numel(out);
      for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
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
      for (int64_t j = 0; j < inner; ++j) y[row * inner + j] = a[oa + j * ia] + b[ob + j * ib];
      for (size_t d = rank - 1; d-- > 0;) {
        if (++idx[d] < out[d]) break;
        idx[d] = 0;
      }
    }
  }

 private:
  std::vector<float> constant_[2];
};

}  // namespace

std::unique_ptr<OpKernel> make_add(const OpBuild& b) {
  if (b.node.inputs.size() != 2) fail(b.where, "expected 2 inputs");
  const Shape& out = b.out_shapes[0];
  std::vector<float> constant[2];
  for (int i = 0; i < 2; ++i) {
    const Shape& s = b.in_shapes[i];
    if (s.size() > out.size()) fail(b.where, "input " + shape_str(s) + " has a higher rank than the output");
    for (size_t d = 0; d < s.size(); ++d) {
      const int64_t od = out[out.size() - s.size() + d];
      if (s[d] != od && s[d] != 1)
        fail(b.where, "input " + shape_str(s) + " does not broadcast to " + shape_str(out));
    }
    if (b.constants[i]) constant[i] = b.constants[i]->to_floats();
  }
  return std::make_unique<Add>(std::move(constant[0]), std::move(constant[1]));
}

}  // namespace stern
