// batch_norm not folded into a conv2d / linear: a per-channel affine map on axis 1.
#include "runtime/op.h"
#include "stern/error.h"

namespace stern {
namespace {

class BatchNorm final : public OpKernel {
 public:
  explicit BatchNorm(ChannelAffine a) : a_(std::move(a)) {}
  std::string kernel_name() const override { return "batch_norm_affine"; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t n = s[0], c = s[1], inner = shape_numel(s) / (n * c);
    const float* x = r.in[0];
    float* y = r.out[0];
    r.pool.parallel_for(n * c, inner, [&](size_t i, int) {
      const float scale = a_.scale[i % c], shift = a_.shift[i % c];
      for (int64_t j = 0; j < inner; ++j) y[i * inner + j] = x[i * inner + j] * scale + shift;
    });
  }

 private:
  ChannelAffine a_;
};

}  // namespace

std::unique_ptr<OpKernel> make_batch_norm(const OpBuild& b) {
  ChannelAffine a = batch_norm_affine(b.node, b.graph, b.where);
  const Shape& s = b.in_shapes[0];
  if (s.size() < 2 || s[1] != static_cast<int64_t>(a.scale.size()))
    fail(b.where, "input " + shape_str(s) + " needs " + std::to_string(a.scale.size()) +
                      " channels on axis 1");
  return std::make_unique<BatchNorm>(std::move(a));
}

}  // namespace stern
