// max_pool: padding never wins (windows are clipped to the input).
#include <limits>

#include "runtime/ops/pool_window.h"

namespace stern {
namespace {

// std::max(m, v): v replaces m only when greater, so a NaN never wins over a number and
// the first of equal values (of +0 and -0) stays.
inline float max_step(float m, float v) { return m < v ? v : m; }

struct MaxOf {
  float operator()(const float* x, const PoolGeometry& g, PoolAxis::Window wh,
                   PoolAxis::Window ww) const {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t ih = wh.begin; ih < wh.end; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) m = max_step(m, x[ih * g.w.in + iw]);
    return m;
  }
};

// 2x2 windows at stride 2 that all lie inside the input (the VGG and LeNet-5 pools): no
// window arithmetic per output and a loop the compiler vectorizes, in MaxOf's order over
// each window, so the same bits. The generic PoolOp took 11 us for the Fashion VGG's first
// pool (16 x 28 x 28) at batch 1, a sixth of the whole model.
class MaxPool2x2 final : public OpKernel {
 public:
  explicit MaxPool2x2(PoolGeometry g) : g_(g) {}
  static bool fits(const PoolGeometry& g) {
    return g.h.kernel == 2 && g.w.kernel == 2 && g.h.stride == 2 && g.w.stride == 2 && g.h.pad_begin == 0 &&
           g.w.pad_begin == 0 && 2 * g.h.out <= g.h.in && 2 * g.w.out <= g.w.in;
  }
  std::string kernel_name() const override { return "max_pool_2x2"; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t in_w = g_.w.in, out_h = g_.h.out, out_w = g_.w.out;
    const int64_t in_plane = g_.h.in * in_w, out_plane = out_h * out_w;
    r.pool.parallel_for(s[0] * s[1], 4 * out_plane, [&](size_t plane, int) {
      const float* x = r.in[0] + plane * in_plane;
      float* y = r.out[0] + plane * out_plane;
      for (int64_t oh = 0; oh < out_h; ++oh) {
        const float* r0 = x + 2 * oh * in_w;
        const float* r1 = r0 + in_w;
        float* o = y + oh * out_w;
        for (int64_t j = 0; j < out_w; ++j) {
          float m = max_step(-std::numeric_limits<float>::infinity(), r0[2 * j]);
          m = max_step(m, r0[2 * j + 1]);
          m = max_step(m, r1[2 * j]);
          o[j] = max_step(m, r1[2 * j + 1]);
        }
      }
    });
  }

 private:
  PoolGeometry g_;
};

}  // namespace

std::unique_ptr<OpKernel> make_max_pool(const OpBuild& b) {
  const PoolGeometry g = pool_geometry(b);
  if (MaxPool2x2::fits(g)) return std::make_unique<MaxPool2x2>(g);
  return std::make_unique<PoolOp<MaxOf>>("max_pool", g);
}

}  // namespace stern
