#include "runtime/plan.h"

#include <climits>
#include <map>
#include <set>

#include "stern/error.h"

namespace stern {
namespace {

std::string node_where(const Node& n) {
  return "node '" + n.name + "' (" + op_name(n.op) + ")";
}

bool all_constant(const Graph& g, const Node& n, size_t from) {
  for (size_t i = from; i < n.inputs.size(); ++i)
    if (!g.find_tensor(n.inputs[i])) return false;
  return true;
}

// Folds a BatchNorm, then a ReLU, into each conv2d / linear whose output feeds only them.
// Returns the steps in graph order with absorbed nodes removed.
std::vector<Step> fuse(const Graph& g) {
  std::map<std::string, std::vector<size_t>> consumers;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (const std::string& in : g.nodes[i].inputs) consumers[in].push_back(i);
  std::set<std::string> outputs;
  for (const ValueInfo& v : g.outputs) outputs.insert(v.name);
  // The single consumer of `value` if it has that op and reads `value` as input 0.
  auto sole = [&](const std::string& value, OpType op) -> const Node* {
    const auto it = consumers.find(value);
    if (outputs.count(value) || it == consumers.end() || it->second.size() != 1) return nullptr;
    const Node& n = g.nodes[it->second[0]];
    return n.op == op && n.inputs[0] == value && n.outputs.size() == 1 ? &n : nullptr;
  };

  std::set<const Node*> absorbed;
  std::vector<Step> steps;
  for (const Node& n : g.nodes) {
    Step s;
    s.node = n;
    s.where = node_where(n);
    s.fused_name = op_name(n.op);
    if ((n.op == OpType::conv2d || n.op == OpType::linear) && n.outputs.size() == 1 &&
        n.inputs.size() >= 2) {
      const Tensor* w = g.find_tensor(n.inputs[1]);
      const Node* bn = sole(n.outputs[0], OpType::batch_norm);
      if (bn && w && !w->shape.empty() && all_constant(g, *bn, 1)) {
        ChannelAffine a = batch_norm_affine(*bn, g, node_where(*bn));
        if (static_cast<int64_t>(a.scale.size()) == w->shape[0]) {
          s.folded_bn = std::move(a);
          s.node.outputs[0] = bn->outputs[0];
          s.fused_name += "+batch_norm";
          absorbed.insert(bn);
        }
      }
      const Node* relu = sole(s.node.outputs[0], OpType::relu);
      if (relu && attr_string(n.attrs, "activation", "").empty()) {
        s.node.outputs[0] = relu->outputs[0];
        s.node.attrs["activation"] = std::string("relu");
        s.fused_name += "+relu";
        absorbed.insert(relu);
      }
    }
    steps.push_back(std::move(s));
  }
  std::vector<Step> kept;
  for (size_t i = 0; i < steps.size(); ++i)
    if (!absorbed.count(&g.nodes[i])) kept.push_back(std::move(steps[i]));
  return kept;
}

}  // namespace

Plan make_plan(const Graph& graph) {
  const std::map<std::string, Shape> shapes = infer_shapes(graph, "session");
  Plan plan;
  std::map<std::string, int> ids;
  auto add_value = [&](const std::string& name, const std::string& where) {
    if (ids.count(name)) fail(where, "value '" + name + "' is defined more than once");
    const auto it = shapes.find(name);
    if (it == shapes.end()) fail(where, "no inferred shape for value '" + name + "'");
    ids[name] = static_cast<int>(plan.values.size());
    plan.values.push_back({name, it->second});
    return ids[name];
  };
  for (const ValueInfo& in : graph.inputs) plan.graph_inputs.push_back(add_value(in.name, "session input"));
  for (const Tensor& t : graph.tensors) plan.values[add_value(t.name, "session tensor")].constant = &t;

  // Topological order: repeatedly take, in graph order, every step whose inputs exist.
  std::vector<Step> pending = fuse(graph);
  while (!pending.empty()) {
    std::vector<Step> blocked;
    for (Step& s : pending) {
      bool ready = true;
      for (const std::string& in : s.node.inputs) ready = ready && ids.count(in);
      if (!ready) {
        blocked.push_back(std::move(s));
        continue;
      }
      const int index = static_cast<int>(plan.steps.size());
      for (size_t i = 0; i < s.node.inputs.size(); ++i) {
        const int v = ids[s.node.inputs[i]];
        if (i == 0 && plan.values[v].constant && s.node.op != OpType::add &&
            s.node.op != OpType::concat)
          fail(s.where, "input 0 '" + s.node.inputs[0] + "' is a constant tensor, expected a computed value");
        s.inputs.push_back(v);
        plan.values[v].last_use = index;
      }
      for (const std::string& out : s.node.outputs) {
        const int v = add_value(out, s.where);
        plan.values[v].producer = index;
        s.outputs.push_back(v);
      }
      plan.steps.push_back(std::move(s));
    }
    if (blocked.size() == pending.size()) {
      const Step& s = blocked.front();
      for (const std::string& in : s.node.inputs)
        if (!ids.count(in))
          fail(s.where, "input '" + in + "' is never produced (undefined value or a cycle)");
    }
    pending = std::move(blocked);
  }
  for (const ValueInfo& out : graph.outputs) {
    const auto it = ids.find(out.name);
    if (it == ids.end()) fail("session output '" + out.name + "'", "not produced by any node");
    if (plan.values[it->second].constant)
      fail("session output '" + out.name + "'", "is a constant tensor, expected a computed value");
    plan.values[it->second].last_use = INT_MAX;
    plan.graph_outputs.push_back(it->second);
  }
  return plan;
}

Arena assign_buffers(const Plan& plan, const std::vector<size_t>& value_floats) {
  Arena arena;
  arena.offsets.assign(plan.values.size(), 0);
  std::map<size_t, size_t> free_blocks;  // offset -> floats, coalesced
  auto size_of = [&](int v) { return (value_floats[v] + 15) / 16 * 16; };
  auto allocate = [&](int v) {
    const size_t need = size_of(v);
    auto best = free_blocks.end();
    for (auto it = free_blocks.begin(); it != free_blocks.end(); ++it)
      if (it->second >= need && (best == free_blocks.end() || it->second < best->second)) best = it;
    if (best == free_blocks.end()) {
      // Grow: extend a free block that ends at the top of the arena, if there is one.
      auto last = free_blocks.empty() ? free_blocks.end() : std::prev(free_blocks.end());
      if (last != free_blocks.end() && last->first + last->second == arena.floats) {
        arena.offsets[v] = last->first;
        arena.floats = last->first + need;
        free_blocks.erase(last);
      } else {
        arena.offsets[v] = arena.floats;
        arena.floats += need;
      }
      return;
    }
    arena.offsets[v] = best->first;
    if (best->second > need) free_blocks[best->first + need] = best->second - need;
    free_blocks.erase(best);
  };
  auto release = [&](int v) {
    size_t off = arena.offsets[v], len = size_of(v);
    auto next = free_blocks.find(off + len);
    if (next != free_blocks.end()) len += next->second, free_blocks.erase(next);
    auto it = free_blocks.lower_bound(off);
    if (it != free_blocks.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == off) off = prev->first, len += prev->second, free_blocks.erase(prev);
    }
    free_blocks[off] = len;
  };
  for (int v : plan.graph_inputs) allocate(v);
  // Graph inputs nobody reads are released at once.
  for (int v : plan.graph_inputs)
    if (plan.values[v].last_use < 0) release(v);
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    for (int v : plan.steps[s].outputs) allocate(v);
    std::set<int> done;
    for (int v : plan.steps[s].inputs)
      if (!plan.values[v].constant && plan.values[v].last_use == int(s) && done.insert(v).second) release(v);
    for (int v : plan.steps[s].outputs)
      if (plan.values[v].last_use < 0) release(v);
  }
  return arena;
}

}  // namespace stern
