// Models shared by the format tests, the corruption corpus and the fuzzer's seed corpus.
#pragma once
#include <cstdint>
#include <vector>

#include "stern/graph.h"

namespace stern::test {

// A small graph that uses every OpType, every AttrValue type and a tensor of every encoding
// in the encoding table, with random (seeded) weights. Input "x" [-1, 3, 8, 8], output "y".
Graph every_op_graph();

// Random codes from the encoding's alphabet (signed_binary rows single-signed), packed by the
// encoding table, as a tensor of `shape` (rows = shape[0]).
Tensor random_weight(const std::string& name, Encoding e, std::vector<int64_t> shape, uint32_t seed);

}  // namespace stern::test
