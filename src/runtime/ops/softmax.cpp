// softmax along `axis` (default -1), max-subtracted for stability.
#include <algorithm>
#include <cmath>

#include "runtime/op.h"

namespace stern {
namespace {

class Softmax final : public OpKernel {
 public:
  explicit Softmax(int64_t axis) : axis_(axis) {}
  std::string kernel_name() const override { return "softmax"; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis_; ++d) outer *= s[d];
    for (size_t d = axis_ + 1; d < s.size(); ++d) inner *= s[d];
    const int64_t n = s[axis_];
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const float* x = r.in[0] + o * n * inner + i;
        float* y = r.out[0] + o * n * inner + i;
        float m = x[0];
        for (int64_t k = 1; k < n; ++k) m = std::max(m, x[k * inner]);
        float sum = 0.0f;
        for (int64_t k = 0; k < n; ++k) sum += y[k * inner] = std::exp(x[k * inner] - m);
        for (int64_t k = 0; k < n; ++k) y[k * inner] /= sum;
      }
    }
  }

 private:
  int64_t axis_;
};

}  // namespace

std::unique_ptr<OpKernel> make_softmax(const OpBuild& b) {
  return std::make_unique<Softmax>(
      normalize_axis(attr_int(b.node.attrs, "axis", -1), b.in_shapes[0].size(), b.where));
}

}  // namespace stern
