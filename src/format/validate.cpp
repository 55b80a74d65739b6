// validate_graph: the structural checks shared by the reader, the writer, importers and the
// runtime. The reader has already bounded every count while parsing; this checks the same
// limits for graphs built in memory so that whatever is written can be read back.
#include <map>
#include <set>

#include "format/checked.h"
#include "format/container.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/shape.h"

namespace stern {
namespace {

using format::kMaxDim;

void check_count(size_t n, size_t limit, const std::string& where, const std::string& what) {
  if (n > limit) fail(where, what + " " + std::to_string(n) + " exceeds the maximum " + std::to_string(limit));
}

void check_name(const std::string& name, const std::string& where, const std::string& what) {
  if (name.empty()) fail(where, what + " has an empty name");
  check_count(name.size(), format::kMaxNameBytes, where, what + " name length");
}

// Before any message quotes a name: control characters would break the one-line errors.
void check_printable_names(const Graph& g, const std::string& where) {
  auto check = [&](const std::string& name, const std::string& what) {
    if (format::find_control_char(name) >= 0) fail(where, what + " contains a control character");
  };
  auto check_keys = [&](const Attributes& attrs, const std::string& what) {
    for (const auto& kv : attrs) check(kv.first, what + " attribute name");
  };
  for (size_t i = 0; i < g.tensors.size(); ++i) check(g.tensors[i].name, "tensor " + std::to_string(i) + " name");
  for (size_t i = 0; i < g.inputs.size(); ++i) check(g.inputs[i].name, "graph input " + std::to_string(i) + " name");
  for (size_t i = 0; i < g.outputs.size(); ++i) check(g.outputs[i].name, "graph output " + std::to_string(i) + " name");
  check_keys(g.metadata, "metadata");
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    const std::string at = "node " + std::to_string(i);
    check(n.name, at + " name");
    for (const auto& v : n.inputs) check(v, at + " input name");
    for (const auto& v : n.outputs) check(v, at + " output name");
    check_keys(n.attrs, at);
  }
}

void check_dims(const std::vector<int64_t>& shape, bool allow_free, const std::string& where) {
  check_count(shape.size(), format::kMaxRank, where, "rank");
  for (const int64_t d : shape) {
    if ((d < 1 && !(allow_free && d == -1)) || d > kMaxDim) {
      fail(where, "dimension " + std::to_string(d) + " out of range; expected 1.." +
                      std::to_string(kMaxDim) + (allow_free ? " or -1" : ""));
    }
  }
}

void check_attributes(const Attributes& attrs, const std::string& where) {
  check_count(attrs.size(), format::kMaxAttributes, where, "attribute count");
  for (const auto& [key, value] : attrs) {
    check_name(key, where, "attribute");
    const std::string at = where + ": attribute '" + key + "'";
    if (const auto* s = std::get_if<std::string>(&value)) {
      check_count(s->size(), format::kMaxStringBytes, at, "string length");
    } else if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) {
      check_count(v->size(), format::kMaxListElements, at, "list length");
    } else if (const auto* f = std::get_if<std::vector<double>>(&value)) {
      check_count(f->size(), format::kMaxListElements, at, "list length");
    }
  }
}

// The payload must decode for the tensor's shape: f32 holds exactly 4 bytes per element, the
// other encodings are checked by their own unpack (encoding.h).
void check_payload(const Tensor& t, const std::string& at) {
  const int64_t n = checked_numel(t.shape, at);
  if (t.encoding == Encoding::f32) {
    const uint64_t expected = static_cast<uint64_t>(n) * sizeof(float);
    if (t.payload.size() != expected) {
      fail(at, "f32 payload is " + std::to_string(t.payload.size()) + " bytes; expected " +
                   std::to_string(expected) + " for shape of " + std::to_string(n) + " elements");
    }
    return;
  }
  encoding_traits(t.encoding).unpack(t.payload, t.rows(), t.cols(), at);
}

bool same_shape(const Shape& declared, const Shape& inferred) {
  if (declared.size() != inferred.size()) return false;
  for (size_t i = 0; i < declared.size(); ++i) {
    if (declared[i] != -1 && inferred[i] != -1 && declared[i] != inferred[i]) return false;
  }
  return true;
}

}  // namespace

void validate_graph(const Graph& g, const std::string& where) {
  check_count(g.tensors.size(), format::kMaxTensors, where, "tensor count");
  check_count(g.nodes.size(), format::kMaxNodes, where, "node count");
  check_count(g.inputs.size(), format::kMaxGraphValues, where, "graph input count");
  check_count(g.outputs.size(), format::kMaxGraphValues, where, "graph output count");
  if (g.inputs.empty()) fail(where, "graph has no inputs; expected at least one");
  if (g.outputs.empty()) fail(where, "graph has no outputs; expected at least one");
  check_attributes(g.metadata, where + ": metadata");
  check_printable_names(g, where);

  for (const auto* values : {&g.inputs, &g.outputs}) {
    for (const ValueInfo& v : *values) {
      const std::string at = where + ": graph " + (values == &g.inputs ? "input" : "output") + " '" + v.name + "'";
      check_name(v.name, at, "value");
      check_dims(v.shape, /*allow_free=*/true, at);
    }
  }

  std::map<std::string, const Tensor*> tensors;
  for (const Tensor& t : g.tensors) {
    const std::string at = where + ": tensor '" + t.name + "'";
    check_name(t.name, at, "tensor");
    encoding_traits_checked(static_cast<uint16_t>(t.encoding), at);
    check_dims(t.shape, /*allow_free=*/false, at);
    check_payload(t, at);
    tensors.emplace(t.name, &t);
  }

  std::set<std::string> node_names;
  for (const Node& n : g.nodes) {
    const std::string at = where + ": node '" + n.name + "'";
    check_name(n.name, at, "node");
    if (!node_names.insert(n.name).second) fail(at, "duplicate node name");
    check_count(n.inputs.size(), format::kMaxNodeValues, at, "input count");
    check_count(n.outputs.size(), format::kMaxNodeValues, at, "output count");
    for (const auto& v : n.outputs) check_name(v, at, "output");
    check_attributes(n.attrs, at);
    // Quantized encodings hold weight matrices: they may only be the weight input of a
    // conv2d or linear node.
    const bool has_weight = n.op == OpType::conv2d || n.op == OpType::linear;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      check_name(n.inputs[i], at, "input");
      const auto it = tensors.find(n.inputs[i]);
      if (it != tensors.end() && it->second->encoding != Encoding::f32 && !(has_weight && i == 1)) {
        fail(at, "input " + std::to_string(i) + " '" + n.inputs[i] + "' is encoded " +
                     encoding_traits(it->second->encoding).name +
                     "; only the weight (input 1) of conv2d/linear may be quantized, expected f32");
      }
    }
  }

  const auto shapes = infer_shapes(g, where);
  std::set<std::string> output_names;
  for (const ValueInfo& v : g.outputs) {
    const std::string at = where + ": graph output '" + v.name + "'";
    if (!output_names.insert(v.name).second) fail(at, "listed twice");
    const auto it = shapes.find(v.name);
    if (it == shapes.end()) fail(at, "is not produced by any node, input or tensor");
    if (!same_shape(v.shape, it->second)) {
      fail(at, "declared shape " + shape_to_string(v.shape) + " but the graph computes " +
                   shape_to_string(it->second));
    }
  }
}

}  // namespace stern
