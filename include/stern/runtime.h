// The inference runtime: loads a Graph, plans buffers once, and runs it on float32 inputs.
// Quantized layers quantize their activations internally and run integer kernels chosen at
// run time for the CPU (see kernels.h); graph inputs and outputs are always float32, NCHW.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

struct FloatTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

struct SessionOptions {
  int threads = 0;               // 0: all cores
  std::string kernel_override;   // force one kernel family for every layer ("" = automatic)
  bool reference_only = false;   // scalar reference paths everywhere (the correctness oracle)
  bool profile = false;          // time every step of run(): Session::step_times()
  // An integer conv2d whose only reader is an integer conv2d writes the reader's activation
  // codes from its epilogue instead of floats (same results, bit for bit; docs/RUNTIME.md).
  bool requantize = true;
};

// What the planner chose for one layer, for `stern info` and `stern bench`.
struct LayerPlan {
  std::string node;
  std::string op;
  std::string encoding;
  std::string kernel;
};

class Session {
 public:
  explicit Session(Graph graph, SessionOptions options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // One tensor per graph input, in order; returns one per graph output.
  std::vector<FloatTensor> run(const std::vector<FloatTensor>& inputs);
  // The same into `outputs` (resized; its buffers are reused from call to call, so a warm
  // loop allocates nothing). `outputs` must be another vector than `inputs`.
  void run(const std::vector<FloatTensor>& inputs, std::vector<FloatTensor>& outputs);
  const Graph& graph() const;
  std::vector<LayerPlan> plan() const;
  // With SessionOptions::profile: per plan step (the order of plan()), the wall time in ms
  // of that step in every run() since the last clear_step_times(); otherwise empty.
  const std::vector<std::vector<double>>& step_times() const;
  void clear_step_times();
  // Memory at this batch size (planned if needed).
  struct Memory {
    size_t arena_bytes = 0;    // every intermediate value; buffers reused by liveness
    size_t scratch_bytes = 0;  // operator scratch (fake-quant, im2col, packing), shared
    size_t values_bytes = 0;   // what the values would take without reuse
  };
  Memory memory(int64_t batch);
  int threads() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stern
