// linear on the f32 reference provider: Y[N, O] = X[N, I] * W^T + b through the blocked
// FP32 GEMM, with W^T packed once at load as the B operand and the bias a per-column
// epilogue. Threads split the output columns.
#include <algorithm>

#include "kernels/f32_gemm/f32_gemm.h"
#include "runtime/layer.h"

namespace stern {
namespace {

size_t round16(size_t n) { return (n + 15) / 16 * 16; }

class F32Linear final : public Layer {
 public:
  F32Linear(const LayerDesc& d, const SessionOptions& options)
      : act_(d.act),
        relu_(d.relu),
        bias_(d.bias),
        in_(d.in_features),
        out_(d.weight->rows()),
        cfg_(f32gemm::config_for(options.reference_only ? Isa::scalar : cpu_features().best())) {
    const std::vector<float> w = dequantized_weights(d);
    // B[k, n] = W[n, k]: the transposed view of the [O, I] weight.
    packed_ = f32gemm::pack_b(cfg_, {w.data(), size_t(in_), true}, in_, out_);
  }

  std::string kernel_name() const override { return std::string("f32_linear_") + cfg_.name; }

  size_t scratch_floats(int64_t batch, int threads) const override {
    return fq_floats(batch) + threads * per_thread_floats();
  }

  void run(const float* in, float* out, int64_t batch, ThreadPool& pool,
           float* scratch) override {
    const float* x = fake_quantize_input(act_, in, scratch, batch * in_, pool);
    float* per_thread = scratch + fq_floats(batch);
    f32gemm::Problem prob;
    prob.m = batch, prob.n = out_, prob.k = in_;
    prob.a.raw = {x, size_t(in_), false};
    prob.b.packed = packed_.data();
    prob.c = out;
    prob.ldc = out_;
    prob.bias_n = bias_.data();
    prob.relu = relu_;
    const size_t n_blocks = (out_ + cfg_.nr - 1) / cfg_.nr;
    const size_t per_task = std::max<size_t>(1, n_blocks / (4 * pool.size()));
    const size_t tasks = (n_blocks + per_task - 1) / per_task;
    pool.parallel_for(tasks, batch * in_ * out_ / tasks, [&](size_t task, int t) {
      const size_t n0 = task * per_task * cfg_.nr;
      const size_t n1 = std::min<size_t>(out_, n0 + per_task * cfg_.nr);
      f32gemm::compute(cfg_, prob, 0, batch, n0, n1, per_thread + t * per_thread_floats());
    });
  }

 private:
  size_t fq_floats(int64_t batch) const { return act_.bits ? round16(batch * in_) : 0; }
  size_t per_thread_floats() const {
    return round16(f32gemm::scratch_floats(cfg_, in_, out_));
  }

  ActQuant act_;
  bool relu_;
  std::vector<float> bias_;
  int64_t in_, out_;
  const f32gemm::Config& cfg_;
  std::vector<float> packed_;
};

}  // namespace

std::unique_ptr<Layer> make_f32_linear(const LayerDesc& desc, const SessionOptions& options) {
  return std::make_unique<F32Linear>(desc, options);
}

}  // namespace stern
