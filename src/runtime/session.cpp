// Session: plans a Graph once (fusion, topological order, kernels) and, per batch size,
// the shapes and the buffer arena; then runs the steps. See docs/RUNTIME.md.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>

#include "runtime/layer.h"
#include "runtime/op.h"
#include "runtime/plan.h"
#include "stern/cpu_features.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/runtime.h"

namespace stern {

int64_t FloatTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

// 64-byte aligned float storage for the arena and scratch.
struct AlignedFloats {
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data;
  size_t size = 0;
  void resize(size_t n) {
    if (n <= size) return;
    const size_t bytes = std::max<size_t>(64, (n * sizeof(float) + 63) / 64 * 64);
    data.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
    if (!data) throw Error("session: cannot allocate " + std::to_string(bytes) + " bytes");
    size = n;
  }
};

}  // namespace

struct Session::Impl {
  Graph graph;
  SessionOptions options;
  ThreadPool pool;
  Plan plan;
  std::vector<std::unique_ptr<OpKernel>> kernels;  // one per plan step
  // Values' shapes, buffer offsets, arena and scratch floats for `batch` images on `threads`.
  struct Layout {
    int64_t batch = -1;
    std::vector<Shape> shapes;
    std::vector<size_t> offsets;
    size_t arena_floats = 0, scratch = 0;
  };
  Layout layout;  // the batch of the last layer-by-layer run
  AlignedFloats arena;

  Impl(Graph g, SessionOptions o)
      : graph(std::move(g)),
        options(std::move(o)),
        pool(options.threads > 0 ? options.threads : cpu_features().cores) {
    if (options.threads < 0) fail("session options", "threads must be >= 0");
    validate_graph(graph, "session");
    plan = make_plan(graph);
    const std::vector<Shape> batch1 = plan_shapes(1);
    for (const Step& s : plan.steps) {
      OpBuild build{s.node, graph, {}, {}, {}, s.folded_bn ? &*s.folded_bn : nullptr, options,
                    s.where};
      build.constants.resize(s.node.inputs.size());
      for (size_t i = 0; i < s.inputs.size(); ++i) {
        build.constants[i] = plan.values[s.inputs[i]].constant;
        build.in_shapes.push_back(batch1[s.inputs[i]]);
      }
      for (int v : s.outputs) build.out_shapes.push_back(batch1[v]);
      const OpFactory factory = op_factory(s.node.op);
      if (!factory) fail(s.where, "operator not supported by the runtime");
      kernels.push_back(factory(build));
    }
    if (options.requantize && !options.reference_only) link_codes();
    if (options.profile) step_times.resize(kernels.size());
    // Every weight layer's per-thread buffers for the pool's threads, which also serve the
    // lanes (the pool's thread t runs lane t).
    for (auto& k : kernels)
      if (Layer* layer = k->weight_layer()) layer->reserve_slots(pool.size());
    if (!options.profile && images_independent(batch1))
      for (int t = 0; t < pool.size(); ++t) lanes.push_back(Lane{std::make_unique<ThreadPool>(1, t), {}, {}});
  }

  // Whole-network batches (docs/RUNTIME.md "Threading"): with a batch of at least one image
  // per thread, each thread runs its own images through every step, in chunks of at most
  // kLaneImages, with its own arena and scratch and a pool of its own (one thread, its slot):
  // no meeting between steps, each image's values stay in one core's cache, and a chunk's fit
  // in it. Only for graphs whose steps treat each image alone. 16 images: a linear layer's
  // rows still reach the tile GEMM (an int8 1024->1024 layer at batch 64 took 0.29 ms in
  // chunks of 8 against 0.09 whole); the Fashion VGG at batch 64 on 2 threads ran 2-4%
  // slower than in chunks of 8, 1.6 ms on one thread against 1.65.
  static constexpr int64_t kLaneImages = 16;
  struct Lane {
    std::unique_ptr<ThreadPool> pool;
    AlignedFloats arena;
    std::vector<float*> where;
  };
  std::vector<Lane> lanes;
  Layout chunk;  // a lane's chunk of images, one thread

  // Each computed value's first dimension is the batch and every step acts on each image
  // alone (an axis of concat, softmax or flatten past the batch's; no matmul, gemm or
  // reshape, which may mix or move rows).
  // one: the values' shapes at batch 1.
  bool images_independent(const std::vector<Shape>& one) const {
    for (const Step& s : plan.steps) {
      switch (s.node.op) {
        case OpType::concat:
        case OpType::softmax:
        case OpType::flatten: {
          const int64_t fallback = s.node.op == OpType::softmax ? -1 : 1;
          if (normalize_axis(attr_int(s.node.attrs, "axis", fallback), one[s.inputs[0]].size(), s.where) == 0)
            return false;
          break;
        }
        case OpType::matmul:
        case OpType::gemm:
        case OpType::reshape:
          return false;
        default:
          break;
      }
    }
    std::vector<Shape> two;
    try {
      two = plan_shapes(2);
    } catch (const Error&) {
      return false;  // a graph that only takes one image
    }
    for (size_t v = 0; v < plan.values.size(); ++v) {
      if (plan.values[v].constant) continue;
      if (one[v].empty() || two[v].size() != one[v].size() || one[v][0] != 1 || two[v][0] != 2 ||
          !std::equal(one[v].begin() + 1, one[v].end(), two[v].begin() + 1))
        return false;
    }
    return true;
  }
  bool in_lanes(int64_t b) const { return !lanes.empty() && b >= std::max<int64_t>(2, int64_t(lanes.size())); }
  void plan_chunk(int64_t b) {
    const int64_t c = std::min(kLaneImages, (b + int64_t(lanes.size()) - 1) / int64_t(lanes.size()));
    if (c == chunk.batch) return;
    chunk = layout_for(c, 1);
    for (Lane& lane : lanes) lane.arena.resize(chunk.arena_floats + chunk.scratch);
  }

  // Requantization in the epilogue: a conv2d whose output is read by exactly one step, a
  // conv2d taking it as its input, hands it over as that reader's activation codes when both
  // layers can (the reader builds a padded NHWC image or padded channel planes of codes, or
  // takes the writer's bytes as its planes; the writer has a plain epilogue: one weight part,
  // one scale group). The value's buffer, sized for floats, holds the bytes. Not a graph
  // output, so no caller ever sees it.
  void link_codes() {
    std::vector<int> readers(plan.values.size(), 0);
    for (const Step& s : plan.steps)
      for (int v : s.inputs) ++readers[v];
    for (int v : plan.graph_outputs) readers[v] += 2;  // never handed over
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& w = plan.steps[i];
      if (w.node.op != OpType::conv2d || w.outputs.size() != 1 || readers[w.outputs[0]] != 1) continue;
      for (size_t j = i + 1; j < plan.steps.size(); ++j) {
        const Step& r = plan.steps[j];
        if (r.inputs.empty() || r.inputs[0] != w.outputs[0]) continue;
        Layer* writer = kernels[i]->weight_layer();
        Layer* reader = r.node.op == OpType::conv2d ? kernels[j]->weight_layer() : nullptr;
        if (!writer || !reader) break;
        for (const CodeFormat& format : reader->code_inputs())
          if (writer->emit_codes(format)) {
            reader->take_codes(format);
            plan.steps[i].fused_name += "+requantize";
            break;
          }
        break;
      }
    }
  }

  // Shape inference reruns with the batch bound, so a free dimension that moved (flatten
  // over the batch axis, reshape) resolves as the operator defines it.
  std::vector<Shape> plan_shapes(int64_t b) const {
    Graph bound;
    bound.inputs = graph.inputs;
    for (ValueInfo& in : bound.inputs)
      for (int64_t& d : in.shape)
        if (d == -1) d = b;
    bound.outputs = graph.outputs;
    bound.nodes = graph.nodes;
    bound.tensors = graph.tensors;
    const std::map<std::string, Shape> inferred = infer_shapes(bound, "session");
    std::vector<Shape> out;
    for (const Value& v : plan.values) out.push_back(inferred.at(v.name));
    return out;
  }

  Layout layout_for(int64_t b, int threads) const {
    Layout l;
    l.batch = b;
    l.shapes = plan_shapes(b);
    std::vector<size_t> floats;
    for (const Shape& s : l.shapes) floats.push_back(shape_numel(s));
    const Arena a = assign_buffers(plan, floats);
    l.offsets = a.offsets;
    l.arena_floats = a.floats;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      std::vector<Shape> in;
      for (int v : plan.steps[i].inputs) in.push_back(l.shapes[v]);
      l.scratch = std::max(l.scratch, kernels[i]->scratch_floats(in, threads));
    }
    return l;
  }
  void replan(int64_t b) {
    if (b == layout.batch) return;
    layout = layout_for(b, pool.size());
    arena.resize(layout.arena_floats + layout.scratch);
  }

  int64_t batch_of(const std::vector<FloatTensor>& inputs) const {
    if (inputs.size() != graph.inputs.size())
      fail("session", "got " + std::to_string(inputs.size()) + " inputs, expected " +
                          std::to_string(graph.inputs.size()));
    int64_t b = 1;
    bool free_seen = false;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const ValueInfo& info = graph.inputs[i];
      const FloatTensor& t = inputs[i];
      bool ok = t.shape.size() == info.shape.size() &&
                t.data.size() == static_cast<size_t>(t.numel());
      for (size_t d = 0; ok && d < info.shape.size(); ++d)
        ok = info.shape[d] == -1 ? t.shape[d] >= 1 : t.shape[d] == info.shape[d];
      if (ok && !info.shape.empty() && info.shape[0] == -1) {
        if (free_seen && t.shape[0] != b) ok = false;
        b = t.shape[0];
        free_seen = true;
      }
      if (!ok)
        fail("session input '" + info.name + "'",
             "shape " + shape_str(t.shape) + " with " + std::to_string(t.data.size()) +
                 " values, expected " + shape_str(info.shape) + " (-1: batch, same for all inputs)");
    }
    return b;
  }

  // Graph inputs are read where the caller holds them and graph outputs written where the
  // caller keeps them: no copy in or out, and no allocation once `outputs` has its sizes (a
  // 64 x 56 x 56 layer spent twice its kernel time copying 800 KB and faulting in the pages
  // of a fresh output vector per call).
  void run(const std::vector<FloatTensor>& inputs, std::vector<FloatTensor>& outputs) {
    if (&inputs == &outputs) fail("session", "outputs must be another vector than the inputs");
    const int64_t b = batch_of(inputs);
    if (in_lanes(b)) return run_lanes(inputs, outputs, b);
    replan(b);
    float* base = arena.data.get();
    where.resize(plan.values.size());
    for (size_t v = 0; v < where.size(); ++v) where[v] = base + layout.offsets[v];
    outputs.resize(plan.graph_outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      const int v = plan.graph_outputs[i];
      outputs[i].shape = layout.shapes[v];
      outputs[i].data.resize(shape_numel(layout.shapes[v]));
    }
    run_steps(inputs, outputs, 0, layout.shapes, where, pool, base + layout.arena_floats);
  }

  void run_lanes(const std::vector<FloatTensor>& inputs, std::vector<FloatTensor>& outputs, int64_t b) {
    plan_chunk(b);
    outputs.resize(plan.graph_outputs.size());
    for (size_t i = 0; i < outputs.size(); ++i) {
      outputs[i].shape = chunk.shapes[plan.graph_outputs[i]];
      outputs[i].shape[0] = b;
      outputs[i].data.resize(shape_numel(outputs[i].shape));
    }
    const int64_t threads = int64_t(lanes.size());
    pool.parallel_static(lanes.size(), [&](size_t t, int) {
      Lane& lane = lanes[t];
      std::vector<Shape> shapes_now = chunk.shapes;
      const int64_t end = b * int64_t(t + 1) / threads;
      for (int64_t first = b * int64_t(t) / threads; first < end; first += chunk.batch) {
        const int64_t images = std::min(chunk.batch, end - first);
        for (size_t v = 0; v < shapes_now.size(); ++v)
          if (!plan.values[v].constant) shapes_now[v][0] = images;
        lane.where.resize(plan.values.size());
        for (size_t v = 0; v < lane.where.size(); ++v) lane.where[v] = lane.arena.data.get() + chunk.offsets[v];
        run_steps(inputs, outputs, first, shapes_now, lane.where, *lane.pool, lane.arena.data.get() + chunk.arena_floats);
      }
    });
  }

  // The steps over images [first, first + shapes' batch) of the graph inputs and outputs
  // (all of them outside lanes), the other values at `where`.
  void run_steps(const std::vector<FloatTensor>& inputs, std::vector<FloatTensor>& outputs, int64_t first,
                 const std::vector<Shape>& shapes_now, std::vector<float*>& at, ThreadPool& p, float* scratch_ptr) {
    // From image `first` > 0 (lanes only): there every computed value's first dimension is the batch.
    const auto image_floats = [&](int v) { return first ? shape_numel(shapes_now[v]) / shapes_now[v][0] : 0; };
    for (size_t i = 0; i < outputs.size(); ++i) {
      const int v = plan.graph_outputs[i];
      at[v] = outputs[i].data.data() + first * image_floats(v);
    }
    // No step writes a graph input.
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int v = plan.graph_inputs[i];
      at[v] = const_cast<float*>(inputs[i].data.data()) + first * image_floats(v);
    }
    std::vector<const float*> in;
    std::vector<float*> out;
    std::vector<Shape> in_shapes, out_shapes;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      const Step& s = plan.steps[i];
      in.clear(), out.clear(), in_shapes.clear(), out_shapes.clear();
      for (int v : s.inputs) {
        in.push_back(plan.values[v].constant ? nullptr : at[v]);
        in_shapes.push_back(shapes_now[v]);
      }
      for (int v : s.outputs) {
        out.push_back(at[v]);
        out_shapes.push_back(shapes_now[v]);
      }
      if (!options.profile) {
        kernels[i]->run({in, in_shapes, out, out_shapes, p, scratch_ptr});
        continue;
      }
      const auto t0 = std::chrono::steady_clock::now();
      kernels[i]->run({in, in_shapes, out, out_shapes, p, scratch_ptr});
      step_times[i].push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    // A graph input that is also a graph output.
    for (size_t i = 0; i < outputs.size(); ++i) {
      const int v = plan.graph_outputs[i];
      float* mine = outputs[i].data.data() + first * image_floats(v);
      if (mine != at[v]) std::memcpy(mine, at[v], size_t(shape_numel(shapes_now[v])) * sizeof(float));
    }
  }
  std::vector<float*> where;  // per value, during run: its buffer
  std::vector<std::vector<double>> step_times;  // SessionOptions::profile
};

Session::Session(Graph graph, SessionOptions options)
    : impl_(std::make_unique<Impl>(std::move(graph), std::move(options))) {}
Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

std::vector<FloatTensor> Session::run(const std::vector<FloatTensor>& inputs) {
  std::vector<FloatTensor> outputs;
  impl_->run(inputs, outputs);
  return outputs;
}

void Session::run(const std::vector<FloatTensor>& inputs, std::vector<FloatTensor>& outputs) {
  impl_->run(inputs, outputs);
}

const Graph& Session::graph() const { return impl_->graph; }

const std::vector<std::vector<double>>& Session::step_times() const { return impl_->step_times; }

void Session::clear_step_times() {
  for (std::vector<double>& t : impl_->step_times) t.clear();
}

std::vector<LayerPlan> Session::plan() const {
  std::vector<LayerPlan> out;
  for (size_t i = 0; i < impl_->plan.steps.size(); ++i) {
    const Step& s = impl_->plan.steps[i];
    out.push_back({s.node.name, s.fused_name, impl_->kernels[i]->encoding(),
                   impl_->kernels[i]->kernel_name()});
  }
  return out;
}

Session::Memory Session::memory(int64_t batch) {
  Impl& s = *impl_;
  Memory m;
  std::vector<Shape> shapes;
  if (s.in_lanes(batch)) {
    // One chunk's arena and scratch per thread.
    s.plan_chunk(batch);
    m.arena_bytes = s.lanes.size() * s.chunk.arena_floats * sizeof(float);
    m.scratch_bytes = s.lanes.size() * s.chunk.scratch * sizeof(float);
    shapes = s.plan_shapes(batch);
  } else {
    s.replan(batch);
    m.arena_bytes = s.layout.arena_floats * sizeof(float);
    m.scratch_bytes = s.layout.scratch * sizeof(float);
    shapes = s.layout.shapes;
  }
  for (size_t v = 0; v < s.plan.values.size(); ++v)
    if (!s.plan.values[v].constant) m.values_bytes += shape_numel(shapes[v]) * sizeof(float);
  return m;
}

int Session::threads() const { return impl_->pool.size(); }

}  // namespace stern
