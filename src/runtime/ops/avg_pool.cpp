// avg_pool: divides by the window clipped to the input, or with count_include_pad by the
// window including padding (the ceil_mode overhang is never counted, as in PyTorch).
#include "runtime/ops/pool_window.h"

namespace stern {
namespace {

class AvgPool final : public OpKernel {
 public:
  explicit AvgPool(PoolGeometry g) : g_(g) {}
  std::string kernel_name() const override { return "avg_pool"; }
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
          float sum = 0.0f;
          for (int64_t ih = wh.begin; ih < wh.end; ++ih)
            for (int64_t iw = ww.begin; iw < ww.end; ++iw) sum += x[ih * g_.w.in + iw];
          const int64_t count = g_.count_include_pad
                                    ? wh.padded_extent * ww.padded_extent
                                    : (wh.end - wh.begin) * (ww.end - ww.begin);
          y[oh * g_.w.out + ow] = sum / static_cast<float>(count);
        }
      }
    });
  }

 private:
  PoolGeometry g_;
};

}  // namespace

std::unique_ptr<OpKernel> make_avg_pool(const OpBuild& b) {
  return std::make_unique<AvgPool>(pool_geometry(b));
}

}  // namespace stern
