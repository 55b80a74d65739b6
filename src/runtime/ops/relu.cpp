// relu not fused into a conv2d / linear epilogue.
#include <algorithm>

#include "runtime/op.h"

namespace stern {
namespace {

class Relu final : public OpKernel {
 public:
  std::string kernel_name() const override { return "relu"; }
  void run(const RunArgs& r) override {
    r.pool.parallel_ranges(shape_numel(r.in_shapes[0]), [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) r.out[0][i] = std::max(r.in[0][i], 0.0f);
    });
  }
};

}  // namespace

std::unique_ptr<OpKernel> make_relu(const OpBuild&) { return std::make_unique<Relu>(); }

}  // namespace stern
