// global_avg_pool: [N, C, H, W] -> [N, C, 1, 1].
#include "runtime/op.h"
#include "stern/error.h"

namespace stern {
namespace {

class GlobalAvgPool final : public OpKernel {
 public:
  std::string kernel_name() const override { return "global_avg_pool"; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t planes = s[0] * s[1], size = s[2] * s[3];
    r.pool.parallel_for(planes, size, [&](size_t p, int) {
      const float* x = r.in[0] + p * size;
      // In double, rounded once: any summation order then gives the same float, so the
      // trainer's LibTorch mean (docs/TRAINING.md "Runtime agreement") feeds the next
      // layer's activation quantizer the same value.
      double sum = 0.0;
      for (int64_t i = 0; i < size; ++i) sum += x[i];
      r.out[0][p] = static_cast<float>(sum / static_cast<double>(size));
    });
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_global_avg_pool(const OpBuild& b) {
  if (b.in_shapes[0].size() != 4) fail(b.where, "input " + shape_str(b.in_shapes[0]) + " must be 4-d NCHW");
  return std::make_unique<GlobalAvgPool>();
}

}  // namespace stern
