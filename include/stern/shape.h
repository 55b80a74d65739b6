// Shape inference for every operator in graph.h; used by the reader's validation, the
// runtime's planner and the importers. A batch dimension of -1 propagates.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

using Shape = std::vector<int64_t>;

// Shapes of every value (graph inputs, node outputs, tensors). Throws stern::Error naming
// the node, the operator and the mismatch.
std::map<std::string, Shape> infer_shapes(const Graph& graph, const std::string& where);

// "[1, 3, 32, 32]", for messages and reports.
std::string shape_to_string(const Shape& s);

}  // namespace stern
