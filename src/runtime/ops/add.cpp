// add with numpy broadcasting; either operand may be a constant tensor (broadcast.h).
#include <functional>

#include "runtime/ops/broadcast.h"

namespace stern {

std::unique_ptr<OpKernel> make_add(const OpBuild& b) {
  return std::make_unique<BroadcastBinary<std::plus<float>>>(
      "add_broadcast", broadcast_operand(b, 0), broadcast_operand(b, 1));
}

}  // namespace stern
