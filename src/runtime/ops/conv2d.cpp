// conv2d on the f32 reference provider: NCHW im2col + the blocked FP32 GEMM
// (kernels/f32_gemm). Per group g, C_g[Og, P] = W_g[Og, Cg*KH*KW] * col_g[Cg*KH*KW, P],
// P = OH*OW, so the output lands in NCHW directly and the bias is a per-row epilogue.
// im2col writes col_g straight into the GEMM's packed B layout (panels of NR columns), so
// the columns are written once and never repacked.
// A 1x1, stride-1, unpadded convolution reads the input as col_g without im2col. A
// depthwise convolution (one input and one output channel per group) would be a GEMM with
// M = 1 per group, so it runs as a direct loop over each plane instead.
#include <algorithm>
#include <cstring>

#include "kernels/f32_gemm/f32_gemm.h"
#include "runtime/layer.h"

namespace stern {
namespace {

size_t round16(size_t n) { return (n + 15) / 16 * 16; }

class F32Conv2d final : public Layer {
 public:
  F32Conv2d(const LayerDesc& d, const SessionOptions& options)
      : g_(d.conv),
        act_(d.act),
        relu_(d.relu),
        bias_(d.bias),
        cfg_(f32gemm::config_for(options.reference_only ? Isa::scalar : cpu_features().best())) {
    cg_ = g_.in_c / g_.groups;
    og_ = g_.out_c / g_.groups;
    k_ = cg_ * g_.kernel_h * g_.kernel_w;
    p_ = g_.out_h * g_.out_w;
    direct_ = g_.kernel_h == 1 && g_.kernel_w == 1 && g_.stride_h == 1 && g_.stride_w == 1 &&
              g_.pad_top == 0 && g_.pad_left == 0 && g_.pad_bottom == 0 && g_.pad_right == 0;
    depthwise_ = cg_ == 1 && og_ == 1;
    // OHWI rows -> per group [Og, (c, kh, kw)], the row order NCHW im2col produces.
    const std::vector<float> w = dequantized_weights(d);
    if (depthwise_) {
      depthwise_weights_ = w;  // [C, KH, KW, 1]: one KH x KW filter per channel
      return;
    }
    const int64_t khw = g_.kernel_h * g_.kernel_w;
    std::vector<float> wg(og_ * k_);
    for (int64_t grp = 0; grp < g_.groups; ++grp) {
      for (int64_t o = 0; o < og_; ++o)
        for (int64_t s = 0; s < khw; ++s)
          for (int64_t c = 0; c < cg_; ++c)
            wg[o * k_ + c * khw + s] = w[((grp * og_ + o) * khw + s) * cg_ + c];
      packed_.push_back(f32gemm::pack_a(cfg_, {wg.data(), size_t(k_), false}, og_, k_));
    }
  }

  std::string kernel_name() const override {
    if (depthwise_) return "f32_depthwise_direct";
    return std::string(direct_ ? "f32_conv1x1_" : "f32_im2col_") + cfg_.name;
  }

  size_t scratch_floats(int64_t batch, int threads) const override {
    return fq_floats(batch) + (depthwise_ ? 0 : threads * per_thread_floats());
  }

  void run(const float* in, float* out, int64_t batch, ThreadPool& pool,
           float* scratch) override {
    const size_t image = g_.in_c * g_.in_h * g_.in_w;
    const float* x = fake_quantize_input(act_, in, scratch, batch * image, pool);
    if (depthwise_) {
      pool.parallel_for(batch * g_.in_c, p_ * g_.kernel_h * g_.kernel_w, [&](size_t plane, int) {
        depthwise_plane(x + plane * g_.in_h * g_.in_w, out + plane * p_, plane % g_.in_c);
      });
      return;
    }
    float* per_thread = scratch + fq_floats(batch);
    const int threads = pool.size();
    if (batch >= threads) {
      // Whole images per thread: no synchronization inside an image.
      pool.parallel_for(batch, g_.groups * og_ * p_ * k_, [&](size_t n, int t) {
        float* s = per_thread + t * per_thread_floats();
        for (int64_t grp = 0; grp < g_.groups; ++grp)
          conv_group(x + n * image, out + n * g_.out_c * p_, grp, 0, og_, 0, p_, s, s + col_floats());
      });
      return;
    }
    // Few images: split each group's GEMM into column (or, when P is small, row) blocks.
    for (int64_t n = 0; n < batch; ++n) {
      for (int64_t grp = 0; grp < g_.groups; ++grp) {
        const float* img = x + n * image;
        float* col = per_thread;  // thread 0's column buffer, shared for this group
        if (!direct_) im2col_parallel(img, grp, col, pool);
        const size_t m_blocks = (og_ + cfg_.mr - 1) / cfg_.mr;
        const size_t n_blocks = (p_ + cfg_.nr - 1) / cfg_.nr;
        const bool split_n = n_blocks >= size_t(2 * threads) || n_blocks >= m_blocks;
        const size_t blocks = split_n ? n_blocks : m_blocks;
        const size_t per_task = std::max<size_t>(1, blocks / (4 * threads));
        const size_t tasks = (blocks + per_task - 1) / per_task;
        pool.parallel_for(tasks, og_ * p_ * k_ / tasks, [&](size_t task, int t) {
          const size_t b0 = task * per_task, b1 = std::min(blocks, b0 + per_task);
          float* gemm_scratch = per_thread + t * per_thread_floats() + col_floats();
          if (split_n)
            gemm_group(img, col, out + n * g_.out_c * p_, grp, 0, og_, b0 * cfg_.nr,
                       std::min<size_t>(p_, b1 * cfg_.nr), gemm_scratch);
          else
            gemm_group(img, col, out + n * g_.out_c * p_, grp, b0 * cfg_.mr,
                       std::min<size_t>(og_, b1 * cfg_.mr), 0, p_, gemm_scratch);
        });
      }
    }
  }

 private:
  size_t fq_floats(int64_t batch) const {
    return act_.bits ? round16(batch * g_.in_c * g_.in_h * g_.in_w) : 0;
  }
  size_t col_floats() const {
    return direct_ ? 0 : round16(k_ * ((p_ + cfg_.nr - 1) / cfg_.nr * cfg_.nr));
  }
  size_t per_thread_floats() const {
    return col_floats() + round16(f32gemm::scratch_floats(cfg_, k_, p_));
  }

  void conv_group(const float* img, float* out, int64_t grp, size_t m0, size_t m1, size_t n0,
                  size_t n1, float* col, float* gemm_scratch) const {
    if (!direct_) im2col(img, grp, 0, cg_, col);
    gemm_group(img, col, out, grp, m0, m1, n0, n1, gemm_scratch);
  }

  void gemm_group(const float* img, const float* col, float* out, int64_t grp, size_t m0,
                  size_t m1, size_t n0, size_t n1, float* gemm_scratch) const {
    f32gemm::Problem prob;
    prob.m = og_, prob.n = p_, prob.k = k_;
    prob.a.packed = packed_[grp].data();
    if (direct_)
      prob.b.raw = {img + grp * cg_ * p_, size_t(p_), false};
    else
      prob.b.packed = col;
    prob.c = out + grp * og_ * p_;
    prob.ldc = p_;
    prob.bias_m = bias_.data() + grp * og_;
    prob.relu = relu_;
    f32gemm::compute(cfg_, prob, m0, m1, n0, n1, gemm_scratch);
  }

  void depthwise_plane(const float* x, float* y, int64_t c) const {
    const float* w = depthwise_weights_.data() + c * g_.kernel_h * g_.kernel_w;
    for (int64_t oh = 0; oh < g_.out_h; ++oh) {
      for (int64_t ow = 0; ow < g_.out_w; ++ow) {
        float acc = 0.0f;
        for (int64_t kh = 0; kh < g_.kernel_h; ++kh) {
          const int64_t ih = oh * g_.stride_h + kh * g_.dilation_h - g_.pad_top;
          if (ih < 0 || ih >= g_.in_h) continue;
          for (int64_t kw = 0; kw < g_.kernel_w; ++kw) {
            const int64_t iw = ow * g_.stride_w + kw * g_.dilation_w - g_.pad_left;
            if (iw >= 0 && iw < g_.in_w) acc += x[ih * g_.in_w + iw] * w[kh * g_.kernel_w + kw];
          }
        }
        acc += bias_[c];
        y[oh * g_.out_w + ow] = relu_ ? std::max(acc, 0.0f) : acc;
      }
    }
  }

  void im2col_parallel(const float* img, int64_t grp, float* col, ThreadPool& pool) const {
    pool.parallel_for(cg_, k_ / cg_ * p_, [&](size_t c, int) { im2col(img, grp, c, c + 1, col); });
  }

  // Rows k = (c, kh, kw) for channels [c0, c1) of group `grp`, columns p = (oh, ow), zero
  // padded, written in packed-B order: element (k, p) at col[(p / NR) * K * NR + k * NR + p % NR].
  void im2col(const float* img, int64_t grp, int64_t c0, int64_t c1, float* col) const {
    const int64_t H = g_.in_h, W = g_.in_w, OH = g_.out_h, OW = g_.out_w;
    const int64_t nr = cfg_.nr, panel = k_ * nr;
    for (int64_t c = c0; c < c1; ++c) {
      const float* plane = img + (grp * cg_ + c) * H * W;
      for (int64_t kh = 0; kh < g_.kernel_h; ++kh) {
        for (int64_t kw = 0; kw < g_.kernel_w; ++kw) {
          const int64_t k = (c * g_.kernel_h + kh) * g_.kernel_w + kw;
          float* row = col + k * nr;
          // Writes columns [p, p + len) from src (step apart), or zeros when src is null.
          auto put = [&](int64_t p, int64_t len, const float* src, int64_t step) {
            while (len > 0) {
              const int64_t lane = p % nr, n = std::min(len, nr - lane);
              float* dst = row + (p / nr) * panel + lane;
              if (!src)
                for (int64_t i = 0; i < n; ++i) dst[i] = 0.0f;
              else if (step == 1)  // contiguous: vectorizes
                for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
              else
                for (int64_t i = 0; i < n; ++i) dst[i] = src[i * step];
              if (src) src += n * step;
              p += n, len -= n;
            }
          };
          const int64_t dw = kw * g_.dilation_w - g_.pad_left;
          // Output columns whose input column ow * stride + dw lies inside [0, W).
          const int64_t lo = std::clamp<int64_t>((-dw + g_.stride_w - 1) / g_.stride_w, 0, OW);
          const int64_t hi = std::clamp<int64_t>((W - dw + g_.stride_w - 1) / g_.stride_w, lo, OW);
          for (int64_t oh = 0; oh < OH; ++oh) {
            const int64_t ih = oh * g_.stride_h + kh * g_.dilation_h - g_.pad_top;
            if (ih < 0 || ih >= H) {
              put(oh * OW, OW, nullptr, 0);
              continue;
            }
            put(oh * OW, lo, nullptr, 0);
            put(oh * OW + lo, hi - lo, plane + ih * W + lo * g_.stride_w + dw, g_.stride_w);
            put(oh * OW + hi, OW - hi, nullptr, 0);
          }
          // The last panel's columns past P: the GEMM computes them, then drops them.
          put(p_, (nr - p_ % nr) % nr, nullptr, 0);
        }
      }
    }
  }

  ConvGeometry g_;
  ActQuant act_;
  bool relu_;
  std::vector<float> bias_;
  const f32gemm::Config& cfg_;
  int64_t cg_, og_, k_, p_;
  bool direct_, depthwise_;
  std::vector<std::vector<float>> packed_;
  std::vector<float> depthwise_weights_;
};

}  // namespace

std::unique_ptr<Layer> make_f32_conv2d(const LayerDesc& desc, const SessionOptions& options) {
  return std::make_unique<F32Conv2d>(desc, options);
}

}  // namespace stern
