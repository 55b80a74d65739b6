// matmul (numpy semantics, batched with broadcasting) and gemm (ONNX Gemm). These carry
// the general ONNX forms that do not fit linear (both operands computed, transposes, a 2-D
// bias); their loops are plain scalar code with double accumulation.
#include <algorithm>

#include "runtime/op.h"
#include "stern/error.h"

namespace stern {
namespace {

// One [M, K] x [K, N] product through element strides, so transposed and broadcast operands
// need no copies.
struct MatrixView {
  const float* data;
  int64_t row_stride, col_stride;
  float at(int64_t r, int64_t c) const { return data[r * row_stride + c * col_stride]; }
};

void matmul_ref(MatrixView a, MatrixView b, int64_t m, int64_t n, int64_t k, float* y) {
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (int64_t p = 0; p < k; ++p) acc += static_cast<double>(a.at(i, p)) * b.at(p, j);
      y[i * n + j] = static_cast<float>(acc);
    }
  }
}

std::vector<float> constant_or_empty(const OpBuild& b, size_t i) {
  return b.constants[i] ? b.constants[i]->to_floats() : std::vector<float>{};
}

class MatMul final : public OpKernel {
 public:
  MatMul(std::vector<float> ca, std::vector<float> cb) : constant_{std::move(ca), std::move(cb)} {}
  std::string kernel_name() const override { return "matmul_ref"; }

  void run(const RunArgs& r) override {
    Shape a = r.in_shapes[0], b = r.in_shapes[1];
    if (a.size() == 1) a.insert(a.begin(), 1);
    if (b.size() == 1) b.push_back(1);
    const int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
    const Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
    const size_t rank = std::max(batch_a.size(), batch_b.size());
    // Matrix strides of each operand per output batch dimension (0 where broadcast).
    std::vector<int64_t> dims(rank, 1), sa(rank, 0), sb(rank, 0);
    int64_t stride_a = m * k, stride_b = k * n;
    for (size_t i = 0; i < rank; ++i) {
      const size_t d = rank - 1 - i;
      const int64_t da = i < batch_a.size() ? batch_a[batch_a.size() - 1 - i] : 1;
      const int64_t db = i < batch_b.size() ? batch_b[batch_b.size() - 1 - i] : 1;
      dims[d] = std::max(da, db);
      if (da != 1) sa[d] = stride_a;
      if (db != 1) sb[d] = stride_b;
      stride_a *= da;
      stride_b *= db;
    }
    const float* pa = r.in[0] ? r.in[0] : constant_[0].data();
    const float* pb = r.in[1] ? r.in[1] : constant_[1].data();
    const int64_t count = shape_numel(dims);
    std::vector<int64_t> idx(rank, 0);
    for (int64_t t = 0; t < count; ++t) {
      int64_t oa = 0, ob = 0;
      for (size_t d = 0; d < rank; ++d) oa += idx[d] * sa[d], ob += idx[d] * sb[d];
      matmul_ref({pa + oa, k, 1}, {pb + ob, n, 1}, m, n, k, r.out[0] + t * m * n);
      for (size_t d = rank; d-- > 0;) {
        if (++idx[d] < dims[d]) break;
        idx[d] = 0;
      }
    }
  }

 private:
  std::vector<float> constant_[2];
};

class Gemm final : public OpKernel {
 public:
  Gemm(bool ta, bool tb, float alpha, float beta, std::vector<float> ca, std::vector<float> cb,
       std::vector<float> cc)
      : ta_(ta), tb_(tb), alpha_(alpha), beta_(beta), constant_{std::move(ca), std::move(cb), std::move(cc)} {}
  std::string kernel_name() const override { return "gemm_ref"; }

  void run(const RunArgs& r) override {
    const Shape& a = r.in_shapes[0];
    const Shape& b = r.in_shapes[1];
    const int64_t m = ta_ ? a[1] : a[0], k = ta_ ? a[0] : a[1], n = tb_ ? b[0] : b[1];
    const float* pa = r.in[0] ? r.in[0] : constant_[0].data();
    const float* pb = r.in[1] ? r.in[1] : constant_[1].data();
    const MatrixView va = ta_ ? MatrixView{pa, 1, a[1]} : MatrixView{pa, a[1], 1};
    const MatrixView vb = tb_ ? MatrixView{pb, 1, b[1]} : MatrixView{pb, b[1], 1};
    float* y = r.out[0];
    matmul_ref(va, vb, m, n, k, y);
    const bool has_c = r.in.size() > 2;
    MatrixView vc{nullptr, 0, 0};
    if (has_c) {
      Shape c = r.in_shapes[2];
      while (c.size() < 2) c.insert(c.begin(), 1);
      vc = {r.in[2] ? r.in[2] : constant_[2].data(), c[0] == 1 ? 0 : c[1], c[1] == 1 ? 0 : 1};
    }
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        float v = alpha_ * y[i * n + j];
        if (has_c) v += beta_ * vc.at(i, j);
        y[i * n + j] = v;
      }
    }
  }

 private:
  bool ta_, tb_;
  float alpha_, beta_;
  std::vector<float> constant_[3];
};

}  // namespace

std::unique_ptr<OpKernel> make_matmul(const OpBuild& b) {
  return std::make_unique<MatMul>(constant_or_empty(b, 0), constant_or_empty(b, 1));
}

std::unique_ptr<OpKernel> make_gemm(const OpBuild& b) {
  const auto& at = b.node.attrs;
  return std::make_unique<Gemm>(attr_int(at, "trans_a", 0) != 0, attr_int(at, "trans_b", 0) != 0,
                                static_cast<float>(attr_float(at, "alpha", 1.0)),
                                static_cast<float>(attr_float(at, "beta", 1.0)),
                                constant_or_empty(b, 0), constant_or_empty(b, 1),
                                b.node.inputs.size() > 2 ? constant_or_empty(b, 2) : std::vector<float>{});
}

}  // namespace stern
