// clip to [min, max]; an absent bound is unbounded. NaN passes through, as in ONNX.
#include <cmath>
#include <limits>

#include "runtime/op.h"

namespace stern {
namespace {

class Clip final : public OpKernel {
 public:
  Clip(float lo, float hi) : lo_(lo), hi_(hi) {}
  std::string kernel_name() const override { return "clip"; }
  void run(const RunArgs& r) override {
    const int64_t n = shape_numel(r.in_shapes[0]);
    const float* x = r.in[0];
    float* y = r.out[0];
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < lo_ ? lo_ : (x[i] > hi_ ? hi_ : x[i]);
  }

 private:
  float lo_, hi_;
};

}  // namespace

std::unique_ptr<OpKernel> make_clip(const OpBuild& b) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  return std::make_unique<Clip>(static_cast<float>(attr_float(b.node.attrs, "min", -kInf)),
                                static_cast<float>(attr_float(b.node.attrs, "max", kInf)));
}

}  // namespace stern
