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

}  // namespace stern
