// avg_pool: divides by the window clipped to the input, or with count_include_pad by the
// window including padding (the ceil_mode overhang is never counted, as in PyTorch).
#include "runtime/ops/pool_window.h"

namespace stern {
namespace {

struct MeanOf {
  float operator()(const float* x, const PoolGeometry& g, PoolAxis::Window wh,
                   PoolAxis::Window ww) const {
    float sum = 0.0f;
    for (int64_t ih = wh.begin; ih < wh.end; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) sum += x[ih * g.w.in + iw];
    const int64_t count = g.count_include_pad ? wh.padded_extent * ww.padded_extent
                                              : (wh.end - wh.begin) * (ww.end - ww.begin);
    return sum / static_cast<float>(count);
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_avg_pool(const OpBuild& b) {
  return std::make_unique<PoolOp<MeanOf>>("avg_pool", pool_geometry(b));
}

}  // namespace stern
