#include "runtime/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "stern/shape.h"

namespace stern::test {

Floats random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Floats v(n);
  for (float& x : v) x = u(rng);
  return v;
}

int64_t numel(const Dims& d) {
  int64_t n = 1;
  for (int64_t x : d) n *= x;
  return n;
}

FloatTensor random_tensor(Dims shape, uint32_t seed) {
  FloatTensor t;
  t.data = random_floats(numel(shape), seed);
  t.shape = std::move(shape);
  return t;
}

FloatTensor conv2d_ref(const FloatTensor& x, const Floats& w, const Dims& ws, const Floats& bias,
                       const ConvParams& p) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t O = ws[0], KH = ws[1], KW = ws[2], CG = ws[3], OG = O / p.groups;
  const int64_t OH = (H + p.pad_top + p.pad_bottom - p.dilation_h * (KH - 1) - 1) / p.stride_h + 1;
  const int64_t OW = (W + p.pad_left + p.pad_right - p.dilation_w * (KW - 1) - 1) / p.stride_w + 1;
  FloatTensor y{{N, O, OH, OW}, Floats(N * O * OH * OW)};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bias.empty() ? 0.0 : bias[o];
          for (int64_t kh = 0; kh < KH; ++kh)
            for (int64_t kw = 0; kw < KW; ++kw)
              for (int64_t c = 0; c < CG; ++c) {
                const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
                const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t ci = (o / OG) * CG + c;
                s += double(x.data[((n * C + ci) * H + ih) * W + iw]) *
                     w[((o * KH + kh) * KW + kw) * CG + c];
              }
          y.data[((n * O + o) * OH + oh) * OW + ow] = float(s);
        }
  return y;
}

FloatTensor linear_ref(const FloatTensor& x, const Floats& w, int64_t out, const Floats& bias) {
  const int64_t N = x.shape[0], I = x.shape[1];
  FloatTensor y{{N, out}, Floats(N * out)};
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double s = bias.empty() ? 0.0 : bias[o];
      for (int64_t i = 0; i < I; ++i) s += double(x.data[n * I + i]) * w[o * I + i];
      y.data[n * out + o] = float(s);
    }
  return y;
}

FloatTensor batch_norm_ref(const FloatTensor& x, const Floats& scale, const Floats& bias,
                           const Floats& mean, const Floats& var, double eps) {
  FloatTensor y = x;
  const int64_t C = x.shape[1], inner = numel(x.shape) / (x.shape[0] * C);
  for (size_t i = 0; i < y.data.size(); ++i) {
    const int64_t c = (int64_t(i) / inner) % C;
    y.data[i] = float((x.data[i] - mean[c]) / std::sqrt(double(var[c]) + eps) * scale[c] + bias[c]);
  }
  return y;
}

FloatTensor relu_ref(FloatTensor x) {
  for (float& v : x.data) v = v > 0 ? v : 0.0f;
  return x;
}

namespace {

// Output size by PyTorch's definition (ceil_mode drops a window starting in the end pad).
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode) {
  const double exact = double(in + pb + pe - k) / double(s);
  int64_t out = int64_t(ceil_mode ? std::ceil(exact) : std::floor(exact)) + 1;
  if (ceil_mode && (out - 1) * s >= in + pb) --out;
  return out;
}

template <typename Reduce>
FloatTensor pool_ref(const FloatTensor& x, const PoolParams& p, Reduce reduce) {
  const int64_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3];
  const int64_t OH = pool_out(H, p.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.ceil_mode);
  const int64_t OW = pool_out(W, p.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.ceil_mode);
  FloatTensor y{{N, C, OH, OW}, Floats(N * C * OH * OW)};
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        std::vector<float> inside;
        int64_t padded = 0;  // window positions inside input + declared padding
        for (int64_t kh = 0; kh < p.kernel_h; ++kh)
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t ih = oh * p.stride_h - p.pad_top + kh;
            const int64_t iw = ow * p.stride_w - p.pad_left + kw;
            if (ih < H + p.pad_bottom && iw < W + p.pad_right) ++padded;
            if (ih >= 0 && ih < H && iw >= 0 && iw < W) inside.push_back(x.data[(nc * H + ih) * W + iw]);
          }
        y.data[(nc * OH + oh) * OW + ow] = reduce(inside, padded);
      }
  return y;
}

}  // namespace

FloatTensor max_pool_ref(const FloatTensor& x, const PoolParams& p) {
  return pool_ref(x, p, [](const std::vector<float>& v, int64_t) {
    return *std::max_element(v.begin(), v.end());
  });
}

FloatTensor avg_pool_ref(const FloatTensor& x, const PoolParams& p) {
  return pool_ref(x, p, [&](const std::vector<float>& v, int64_t padded) {
    double s = 0;
    for (float f : v) s += f;
    return float(s / double(p.count_include_pad ? padded : int64_t(v.size())));
  });
}

FloatTensor global_avg_pool_ref(const FloatTensor& x) {
  const int64_t N = x.shape[0], C = x.shape[1], HW = x.shape[2] * x.shape[3];
  FloatTensor y{{N, C, 1, 1}, Floats(N * C)};
  for (int64_t i = 0; i < N * C; ++i) {
    double s = 0;
    for (int64_t j = 0; j < HW; ++j) s += x.data[i * HW + j];
    y.data[i] = float(s / double(HW));
  }
  return y;
}

FloatTensor add_ref(const FloatTensor& a, const FloatTensor& b) {
  const size_t rank = std::max(a.shape.size(), b.shape.size());
  auto padded = [&](const Dims& d) {
    Dims p(rank - d.size(), 1);
    p.insert(p.end(), d.begin(), d.end());
    return p;
  };
  const Dims pa = padded(a.shape), pb = padded(b.shape);
  Dims out(rank);
  for (size_t i = 0; i < rank; ++i) out[i] = std::max(pa[i], pb[i]);
  FloatTensor y{out, Floats(numel(out))};
  for (int64_t flat = 0; flat < numel(out); ++flat) {
    // Unravel the output index, then ravel it into each operand with broadcast dims at 0.
    int64_t rest = flat, ia = 0, ib = 0, sa = 1, sb = 1;
    for (size_t d = rank; d-- > 0;) {
      const int64_t idx = rest % out[d];
      rest /= out[d];
      ia += (pa[d] == 1 ? 0 : idx) * sa;
      ib += (pb[d] == 1 ? 0 : idx) * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    y.data[flat] = a.data[ia] + b.data[ib];
  }
  return y;
}

FloatTensor concat_ref(const std::vector<FloatTensor>& xs, int64_t axis) {
  Dims out = xs[0].shape;
  out[axis] = 0;
  for (const FloatTensor& x : xs) out[axis] += x.shape[axis];
  FloatTensor y{out, Floats(numel(out))};
  int64_t inner = 1;
  for (size_t d = axis + 1; d < out.size(); ++d) inner *= out[d];
  const int64_t outer = numel(out) / (out[axis] * inner);
  for (int64_t o = 0; o < outer; ++o) {
    int64_t at = 0;
    for (const FloatTensor& x : xs)
      for (int64_t a = 0; a < x.shape[axis]; ++a, ++at)
        for (int64_t i = 0; i < inner; ++i)
          y.data[(o * out[axis] + at) * inner + i] = x.data[(o * x.shape[axis] + a) * inner + i];
  }
  return y;
}

FloatTensor softmax_ref(const FloatTensor& x, int64_t axis) {
  if (axis < 0) axis += int64_t(x.shape.size());
  int64_t inner = 1;
  for (size_t d = axis + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  const int64_t n = x.shape[axis], outer = numel(x.shape) / (n * inner);
  FloatTensor y = x;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(double(x.data[(o * n + k) * inner + i]));
      for (int64_t k = 0; k < n; ++k)
        y.data[(o * n + k) * inner + i] = float(std::exp(double(x.data[(o * n + k) * inner + i])) / sum);
    }
  return y;
}

float fake_quant_ref(float x, int bits, double scale, bool is_signed) {
  const float lo = is_signed ? -float((1 << (bits - 1)) - 1) : 0.0f;
  const float hi = is_signed ? float((1 << (bits - 1)) - 1) : float((1 << bits) - 1);
  const float q = std::nearbyint(x / float(scale));
  return std::min(std::max(q, lo), hi) * float(scale);
}

GraphBuilder& GraphBuilder::input(const std::string& name, Dims shape) {
  g.inputs.push_back({name, std::move(shape)});
  return *this;
}

GraphBuilder& GraphBuilder::tensor(const std::string& name, Dims shape, const Floats& values) {
  g.tensors.push_back(Tensor::from_floats(name, std::move(shape), values));
  return *this;
}

GraphBuilder& GraphBuilder::node(OpType op, const std::string& name,
                                 std::vector<std::string> inputs, const std::string& output,
                                 Attributes attrs) {
  g.nodes.push_back({op, name, std::move(inputs), {output}, std::move(attrs)});
  return *this;
}

Graph GraphBuilder::done(std::vector<std::string> outputs) {
  const auto shapes = infer_shapes(g, "test graph");
  for (const std::string& o : outputs) g.outputs.push_back({o, shapes.at(o)});
  return g;
}

SessionOptions options(int threads, bool reference_only, std::string kernel) {
  SessionOptions o;
  o.threads = threads;
  o.reference_only = reference_only;
  o.kernel_override = std::move(kernel);
  return o;
}

double max_rel_diff(const FloatTensor& a, const FloatTensor& b) {
  if (a.shape != b.shape || a.data.size() != b.data.size()) return std::numeric_limits<double>::infinity();
  double scale = 1.0, diff = 0.0;
  for (float v : b.data) scale = std::max(scale, double(std::fabs(v)));
  for (size_t i = 0; i < a.data.size(); ++i) diff = std::max(diff, double(std::fabs(a.data[i] - b.data[i])));
  return diff / scale;
}

}  // namespace stern::test
