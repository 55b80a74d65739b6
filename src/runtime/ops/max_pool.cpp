// max_pool: padding never wins (windows are clipped to the input), one plane per item.
#include <limits>

#include "runtime/ops/pool_window.h"

namespace stern {
namespace {

class MaxPool final : public OpKernel {
 public:
  explicit MaxPool(PoolGeometry g) : g_(g) {}
  std::string kernel_name() const override { return "max_pool"; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t in_plane = g_.h.in * g_.w.in, out_plane = g_.h.out * g_.w.out;
    r.pool.parallel_for(s[0] * s[1], [&](size_t plane, int) {
      const float* x = r.in[0] + plane * in_plane;
      float* y = r.out[0] + plane * out_plane;
      for (int64_t oh = 0; oh < g_.h.out; ++oh) {
        const PoolAxis::Window wh = g_.h.window(oh);
        for (int64_t ow = 0; ow < g_.w.out; ++ow) {
          const PoolAxis::Window ww = g_.w.window(ow);
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t ih = wh.begin; ih < wh.end; ++ih)
            for (int64_t iw = ww.begin; iw < ww.end; ++iw) m = std::max(m, x[ih * g_.w.in + iw]);
          y[oh * g_.w.out + ow] = m;
        }
      }
    });
  }

 private:
  PoolGeometry g_;
};

}  // namespace

std::unique_ptr<OpKernel> make_max_pool(const OpBuild& b) {
  return std::make_unique<MaxPool>(pool_geometry(b));
}

}  // namespace stern
