// max_pool: padding never wins (windows are clipped to the input).
#include <limits>

#include "kernels/igemm.h"
#include "runtime/ops/pool_window.h"
#include "stern/cpu_features.h"

namespace stern {
namespace {

struct MaxOf {
  float operator()(const float* x, const PoolGeometry& g, PoolAxis::Window wh,
                   PoolAxis::Window ww) const {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t ih = wh.begin; ih < wh.end; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) m = kernels::pool_max_step(m, x[ih * g.w.in + iw]);
    return m;
  }
};

// 2x2 windows at stride 2 that all lie inside the input (the VGG and LeNet-5 pools): no
// window arithmetic per output, the max_pool_2x2 ukernel of the CPU (kernels/igemm.h), in
// MaxOf's order over each window, so the same bits. The generic PoolOp took 11 us for the
// Fashion VGG's first pool (16 x 28 x 28) at batch 1, a sixth of the whole model; a loop
// the compiler vectorized for the baseline ISA 2.7 us.
class MaxPool2x2 final : public OpKernel {
 public:
  explicit MaxPool2x2(PoolGeometry g) : g_(g), kernel_(kernels::best_max_pool_2x2(cpu_features().best())) {}
  static bool fits(const PoolGeometry& g) {
    return g.h.kernel == 2 && g.w.kernel == 2 && g.h.stride == 2 && g.w.stride == 2 && g.h.pad_begin == 0 &&
           g.w.pad_begin == 0 && 2 * g.h.out <= g.h.in && 2 * g.w.out <= g.w.in;
  }
  std::string kernel_name() const override { return std::string("max_pool_2x2:") + kernel_.name; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t in_w = g_.w.in, out_h = g_.h.out, out_w = g_.w.out;
    const int64_t in_plane = g_.h.in * in_w, out_plane = out_h * out_w;
    r.pool.parallel_for(s[0] * s[1], 4 * out_plane, [&](size_t plane, int) {
      kernel_.fn(r.in[0] + plane * in_plane, size_t(out_h), size_t(out_w), size_t(in_w), r.out[0] + plane * out_plane,
                 size_t(out_w));
    });
  }

 private:
  PoolGeometry g_;
  const kernels::MaxPool2x2Kernel& kernel_;
};

}  // namespace

std::unique_ptr<OpKernel> make_max_pool(const OpBuild& b) {
  const PoolGeometry g = pool_geometry(b);
  if (MaxPool2x2::fits(g)) return std::make_unique<MaxPool2x2>(g);
  return std::make_unique<PoolOp<MaxOf>>("max_pool", g);
}

}  // namespace stern
