// Window geometry shared by max_pool and avg_pool (PyTorch semantics, which ONNX follows):
// out = floor_or_ceil((in + pad_begin + pad_end - kernel) / stride) + 1, and with ceil_mode
// the last window must start inside the input or its leading padding.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/op.h"

namespace stern {

struct PoolAxis {
  int64_t in, out, kernel, stride, pad_begin, pad_end;

  // Window of output index o: [begin, end) clipped to the input, and the extent including
  // padding (but not the ceil_mode overhang), which count_include_pad divides by.
  struct Window {
    int64_t begin, end, padded_extent;
  };
  Window window(int64_t o) const {
    const int64_t start = o * stride - pad_begin;
    const int64_t stop = std::min(start + kernel, in + pad_end);
    return {std::max<int64_t>(start, 0), std::min(stop, in), stop - start};
  }
};

struct PoolGeometry {
  PoolAxis h, w;
  bool count_include_pad = false;
};

// Reads kernel, strides, pads (2 or 4 values), ceil_mode; checks the inferred output.
PoolGeometry pool_geometry(const OpBuild& b);

// A pooling op: `reduce(plane, g, wh, ww)` gives one output from the clipped windows; planes
// (N * C of them) run in parallel.
template <typename Reduce>
class PoolOp final : public OpKernel {
 public:
  PoolOp(const char* name, PoolGeometry g) : name_(name), g_(g) {}
  std::string kernel_name() const override { return name_; }
  void run(const RunArgs& r) override {
    const Shape& s = r.in_shapes[0];
    const int64_t in_plane = g_.h.in * g_.w.in, out_plane = g_.h.out * g_.w.out;
    const size_t cost = out_plane * g_.h.kernel * g_.w.kernel;
    r.pool.parallel_for(s[0] * s[1], cost, [&](size_t plane, int) {
      const float* x = r.in[0] + plane * in_plane;
      float* y = r.out[0] + plane * out_plane;
      for (int64_t oh = 0; oh < g_.h.out; ++oh) {
        const PoolAxis::Window wh = g_.h.window(oh);
        for (int64_t ow = 0; ow < g_.w.out; ++ow)
          y[oh * g_.w.out + ow] = Reduce{}(x, g_, wh, g_.w.window(ow));
      }
    });
  }

 private:
  const char* name_;
  PoolGeometry g_;
};

}  // namespace stern
