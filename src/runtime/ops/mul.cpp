// mul with numpy broadcasting (ONNX Mul).
#include <functional>

#include "runtime/ops/broadcast.h"
#include "stern/error.h"

namespace stern {

std::vector<float> broadcast_operand(const OpBuild& b, size_t i) {
  if (b.node.inputs.size() != 2) fail(b.where, "expected 2 inputs");
  const Shape& out = b.out_shapes[0];
  const Shape& s = b.in_shapes[i];
  if (s.size() > out.size()) fail(b.where, "input " + shape_str(s) + " has a higher rank than the output");
  for (size_t d = 0; d < s.size(); ++d) {
    const int64_t od = out[out.size() - s.size() + d];
    if (s[d] != od && s[d] != 1) fail(b.where, "input " + shape_str(s) + " does not broadcast to " + shape_str(out));
  }
  return b.constants[i] ? b.constants[i]->to_floats() : std::vector<float>{};
}

std::unique_ptr<OpKernel> make_mul(const OpBuild& b) {
  return std::make_unique<BroadcastBinary<std::multiplies<float>>>("mul_broadcast", broadcast_operand(b, 0),
                                                                  broadcast_operand(b, 1));
}

}  // namespace stern
