#include "runtime/ops/pool_window.h"

#include "stern/error.h"

namespace stern {
namespace {

int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode) {
  const int64_t span = in + pb + pe - k;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

}  // namespace

PoolGeometry pool_geometry(const OpBuild& b) {
  const Shape& x = b.in_shapes[0];
  const Shape& y = b.out_shapes[0];
  if (x.size() != 4) fail(b.where, "input " + shape_str(x) + " must be 4-d NCHW");
  const std::vector<int64_t> k = attr_ints(b.node.attrs, "kernel", {});
  const std::vector<int64_t> s = attr_ints(b.node.attrs, "strides", {1, 1});
  const std::vector<int64_t> p = attr_ints(b.node.attrs, "pads", {0, 0});
  if (k.size() != 2 || k[0] < 1 || k[1] < 1) fail(b.where, "kernel must be two values >= 1");
  if (s.size() != 2 || s[0] < 1 || s[1] < 1) fail(b.where, "strides must be two values >= 1");
  if ((p.size() != 2 && p.size() != 4) || *std::min_element(p.begin(), p.end()) < 0)
    fail(b.where, "pads must be 2 or 4 values >= 0");
  const bool four = p.size() == 4;
  const bool ceil_mode = attr_int(b.node.attrs, "ceil_mode", 0) != 0;
  PoolGeometry g;
  g.h = {x[2], 0, k[0], s[0], p[0], four ? p[2] : p[0]};
  g.w = {x[3], 0, k[1], s[1], p[1], four ? p[3] : p[1]};
  for (PoolAxis* a : {&g.h, &g.w}) {
    if (a->pad_begin >= a->kernel || a->pad_end >= a->kernel)
      fail(b.where, "pads must be smaller than the kernel");
    a->out = pooled_size(a->in, a->kernel, a->stride, a->pad_begin, a->pad_end, ceil_mode);
    if (a->out < 1) fail(b.where, "kernel larger than the padded input " + shape_str(x));
  }
  if (y.size() != 4 || y[2] != g.h.out || y[3] != g.w.out)
    fail(b.where, "inferred output " + shape_str(y) + " disagrees with the pooling's " +
                      std::to_string(g.h.out) + "x" + std::to_string(g.w.out));
  g.count_include_pad = attr_int(b.node.attrs, "count_include_pad", 0) != 0;
  return g;
}

}  // namespace stern
