// concat along `axis`: each operand contributes a contiguous run per outer index.
#include <cstring>

#include "runtime/op.h"
#include "stern/error.h"

namespace stern {
namespace {

class Concat final : public OpKernel {
 public:
  Concat(int64_t axis, std::vector<std::vector<float>> constants)
      : axis_(axis), constants_(std::move(constants)) {}
  std::string kernel_name() const override { return "concat"; }
  void run(const RunArgs& r) override {
    const Shape& out = r.out_shapes[0];
    int64_t outer = 1;
    for (int64_t d = 0; d < axis_; ++d) outer *= out[d];
    const int64_t out_run = outer ? shape_numel(out) / outer : 0;
    int64_t offset = 0;
    for (size_t i = 0; i < r.in.size(); ++i) {
      const float* x = r.in[i] ? r.in[i] : constants_[i].data();
      const int64_t run = outer ? shape_numel(r.in_shapes[i]) / outer : 0;
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(r.out[0] + o * out_run + offset, x + o * run, run * sizeof(float));
      offset += run;
    }
  }

 private:
  int64_t axis_;
  std::vector<std::vector<float>> constants_;
};

}  // namespace

std::unique_ptr<OpKernel> make_concat(const OpBuild& b) {
  const Shape& out = b.out_shapes[0];
  const int64_t axis = normalize_axis(attr_int(b.node.attrs, "axis", 1), out.size(), b.where);
  int64_t total = 0;
  std::vector<std::vector<float>> constants(b.in_shapes.size());
  for (size_t i = 0; i < b.in_shapes.size(); ++i) {
    const Shape& s = b.in_shapes[i];
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = int64_t(d) == axis || s[d] == out[d];
    if (!ok) fail(b.where, "input " + shape_str(s) + " does not match output " + shape_str(out) + " off the axis");
    total += s[axis];
    if (b.constants[i]) constants[i] = b.constants[i]->to_floats();
  }
  if (total != out[axis]) fail(b.where, "inputs do not add up to output " + shape_str(out));
  return std::make_unique<Concat>(axis, std::move(constants));
}

}  // namespace stern
