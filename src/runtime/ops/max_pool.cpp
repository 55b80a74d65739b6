// max_pool: padding never wins (windows are clipped to the input).
#include <limits>

#include "runtime/ops/pool_window.h"

namespace stern {
namespace {

struct MaxOf {
  float operator()(const float* x, const PoolGeometry& g, PoolAxis::Window wh,
                   PoolAxis::Window ww) const {
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t ih = wh.begin; ih < wh.end; ++ih)
      for (int64_t iw = ww.begin; iw < ww.end; ++iw) m = std::max(m, x[ih * g.w.in + iw]);
    return m;
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_max_pool(const OpBuild& b) {
  return std::make_unique<PoolOp<MaxOf>>("max_pool", pool_geometry(b));
}

}  // namespace stern
