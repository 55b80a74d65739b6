// Layer providers (layer.h) for the bitmap kernels of kernels/signed_binary/bitmap_gemm.h:
//   "signed_binary"  signed_binary weights (one sign per filter, sparse)
//   "binary"         binary weights (+-alpha, dense)
// Both need uint8 / int8 activation codes (act_bits 2..8) and one scale per filter; other
// layers (FGQ groups, float inputs) fall through to the next provider. The method (bitmap
// or lut) follows sbin::choose_method for the rows of each call; a linear layer at batch 1
// runs the dense ternary GEMV on the same codes instead (faster there). XNOR-popcount
// (binary_xnor.h) is not used: it needs {-1, +1} activations, which act_bits cannot express.
//
// Per batch: codes by the runtime's quantize kernel (the reference's codes bit for bit),
// NHWC bytes, im2col rows in the weight matrix's (kh, kw, c) column order, one sbin::gemm
// per conv group whose epilogue applies the weight scale with out_scale folded in, the
// bias and the ReLU; then the [pixel][channel] result is stored NCHW. Convolutions take
// part in the codes between layers (layer.h): they read NHWC codes in their quantizer's
// format, and write their reader's codes from the [pixel][channel] floats.
#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/igemm.h"
#include "kernels/qmatmul.h"
#include "kernels/signed_binary/bitmap_gemm.h"
#include "runtime/int_layers.h"
#include "runtime/layer.h"
#include "stern/error.h"

namespace stern {
namespace {

// Rows of one gemm call in a convolution: bounds the im2col bytes and the [M][O] output
// (a batch runs as slabs of whole images) while keeping several lut blocks per thread.
constexpr int64_t kSlabRows = 2048;
// Filters of one thread's share are whole panels of the widest bitmap kernel.
constexpr int64_t kFilterAlign = 32;
// Rows of one gemm task: whole lut blocks, or whole tiles of the tallest bitmap kernel.
constexpr int64_t kLutTaskBlocks = 4;
constexpr int64_t kBitmapTaskRows = 256;
constexpr int64_t kBitmapRowAlign = 8;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// dst[c * rows + r] = src[r * cols + c], 16 source rows at a time so the written lines stay
// in L1: channel planes to pixel-major bytes and back for the float results.
template <typename T>
void transpose(const T* src, int64_t rows, int64_t cols, T* dst) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t r1 = std::min(rows, r0 + 16);
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t r = r0; r < r1; ++r) dst[c * rows + r] = src[r * cols + c];
  }
}

WeightMatrix weight_matrix(const LayerDesc& d) {
  const Tensor& w = *d.weight;
  return encoding_traits(w.encoding).unpack(w.payload, w.rows(), w.cols(), d.where + " weight");
}

bool supports_bitmap(const LayerDesc& d, Encoding e) {
  // A zero point goes to the ternary provider, which centres the codes (layer.h centered).
  if (d.weight->encoding != e || d.act.bits < 2 || d.act.bits > 8 || d.act.zero_point != 0) return false;
  const WeightMatrix m = weight_matrix(d);
  return m.group == m.cols && m.cols <= sbin::kMaxCols;
}

// Convolutions the ternary provider runs faster go there (bitmap_conv_defers): on the Xeon
// with AMX 2-5x on every 3x3 layer measured at 69% sparsity (docs/BENCHMARKS.md
// "Signed-binary on AMX"); on two VNNI ports (Ice Lake) 1.4-1.8x while the int8 weights fit
// L2; and wherever the ternary provider picks the sparse GEMM, 2.6-6x.
bool defers_to_ternary(const LayerDesc& d) {
  if (d.op != OpType::conv2d) return false;
  const WeightMatrix m = weight_matrix(d);
  return bitmap_conv_defers(d.conv, m.cols, m.density(), cpu_features().best(), cpu_features().vnni_dual);
}

class BitmapLayer final : public Layer {
 public:
  BitmapLayer(const LayerDesc& d, bool binary)
      : binary_(binary), act_(d.act), relu_(d.relu), bias_(d.bias),
        isa_(cpu_features().best()), quantize_(&kernels::best_quantize(isa_)) {
    if (d.op == OpType::conv2d) {
      g_ = d.conv;
    } else {  // a 1x1 convolution over 1x1 images
      g_.in_c = d.in_features, g_.in_h = g_.in_w = 1;
      g_.out_c = d.weight->rows(), g_.out_h = g_.out_w = 1;
    }
    const WeightMatrix m = weight_matrix(d);
    og_ = g_.out_c / g_.groups;
    cg_ = g_.in_c / g_.groups;
    k_ = m.cols;
    if (m.rows != g_.out_c || m.cols != cg_ * g_.kernel_h * g_.kernel_w)
      fail(d.where, "weight matrix " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                        " does not match the layer geometry");
    // Direct rows: the NHWC bytes already are the im2col rows.
    direct_ = g_.groups == 1 && g_.kernel_h == 1 && g_.kernel_w == 1 && g_.stride_h == 1 &&
              g_.stride_w == 1 && g_.pad_top == 0 && g_.pad_left == 0 && g_.pad_bottom == 0 &&
              g_.pad_right == 0;
    for (int64_t grp = 0; grp < g_.groups; ++grp) {
      WeightMatrix part;
      part.rows = og_, part.cols = k_, part.group = k_, part.asymmetric = m.asymmetric;
      part.codes.assign(m.codes.begin() + grp * og_ * k_, m.codes.begin() + (grp + 1) * og_ * k_);
      part.scale_pos.assign(m.scale_pos.begin() + grp * og_, m.scale_pos.begin() + (grp + 1) * og_);
      part.scale_neg.assign(m.scale_neg.begin() + grp * og_, m.scale_neg.begin() + (grp + 1) * og_);
      sbin::BitmapWeights w = binary ? sbin::pack_binary(part, d.where + " weight")
                                     : sbin::pack_signed_binary(part, d.where + " weight");
      // The folded BatchNorm scale joins the weight scale: both multiply the integer product.
      // Scaling coef_bits and coef_sum alike keeps binary's symmetric form exact (x2 is).
      for (int64_t n = 0; n < og_; ++n) {
        w.coef_bits[size_t(n)] *= d.out_scale[size_t(grp * og_ + n)];
        w.coef_sum[size_t(n)] *= d.out_scale[size_t(grp * og_ + n)];
      }
      // Panels always (bitmap takes the rows lut leaves); tables when many rows would use them.
      sbin::prepare(w, method(w, std::numeric_limits<int64_t>::max()));
      weights_.push_back(std::move(w));
    }
    // A single row (linear at batch 1) is a GEMV, where the bitmap kernel is slower than the
    // dense ternary GEMV on the same codes (fc:4096x4096: 0.18 vs 0.11 ms, docs/BENCHMARKS.md
    // "Signed-binary in the runtime"): those calls go to a ternary IntLayer.
    if (linear() && kernels::IntLayer::supports(m, act_, kernels::Method::ternary_dense))
      gemv_ = std::make_unique<kernels::IntLayer>(m, g_, act_, d.out_scale, d.bias, relu_,
                                                  kernels::IntLayerOptions{kernels::Method::ternary_dense, isa_},
                                                  d.where);
  }

  // A linear-shaped layer runs the ternary GEMV at batch 1 (gemv_, from floats): left out.
  std::vector<CodeFormat> code_inputs() const override {
    if (linear()) return {};
    return {CodeFormat{act_, 0, CodeLayout::nhwc}};
  }
  bool emit_codes(const CodeFormat& format) override {
    if (linear() || format.layout == CodeLayout::planes) return false;
    codes_out_ = format;
    return true;
  }
  void take_codes(const CodeFormat&) override { codes_in_ = true; }

  std::string kernel_name() const override {
    // At batch 1, then what larger batches switch to.
    const sbin::Method many = method(weights_[0], std::numeric_limits<int64_t>::max());
    std::string name = binary_ ? "binary:" : "signed_binary:", later;
    bool lut_later = many == sbin::Method::lut;
    if (gemv_) {
      name += std::string("ternary_gemv:") + gemv_->kernel_name(1);
      later = "bitmap from 2 rows";
    } else {
      const sbin::Method m = method(weights_[0], g_.out_h * g_.out_w);
      name += std::string(sbin::method_name(m)) + ":" + ukernel_name(m);
      lut_later &= m != sbin::Method::lut;
    }
    if (lut_later)
      later += (later.empty() ? "lut from " : ", lut from ") +
               std::to_string(sbin::lut_config_for(isa_).lanes) + " rows";
    return later.empty() ? name : name + " (" + later + ")";
  }

  size_t scratch_floats(int64_t batch, int threads) const override {
    const int64_t pixels = g_.out_h * g_.out_w;
    size_t floats = code_floats(batch, threads);
    if (!linear()) floats += size_t(slab_images(batch) * pixels * g_.out_c);
    return floats;
  }

  void reserve_slots(int slots) override {
    if (gemv_) gemv_->reserve_slots(slots);
  }

  void run(const float* in, float* out, int64_t batch, ThreadPool& pool, float* scratch) override {
    if (gemv_ && batch == 1) {
      gemv_->run(in, out, 1, pool);
      return;
    }
    const int64_t hw = g_.in_h * g_.in_w, in_size = g_.in_c * hw, pixels = g_.out_h * g_.out_w;
    // Scratch: NHWC codes of the whole input, then each thread's NCHW codes of one image,
    // the im2col rows of one slab (bytes), then the slab's [M][O] output (floats).
    auto* codes = reinterpret_cast<uint8_t*>(scratch);
    uint8_t* planes = codes + batch * in_size;
    uint8_t* rows = planes + pool.size() * in_size;
    float* y = linear() ? out : scratch + code_floats(batch, pool.size());

    // Signed codes are stored as their int8 bytes (add 0), as QuantizedRows expects.
    if (codes_in_) {
      // The writer's NHWC codes, each image in the first bytes of its float slot.
      for (int64_t img = 0; img < batch; ++img)
        std::memcpy(codes + img * in_size, reinterpret_cast<const uint8_t*>(in + img * in_size), size_t(in_size));
    } else if (hw == 1 || g_.in_c == 1) {
      pool.parallel_ranges(size_t(batch * in_size), [&](size_t b, size_t e) {
        quantize_->fn(in + b, 1, e - b, e - b, act_, 0, codes + b, e - b);
      });
    } else {
      pool.parallel_for(size_t(batch), size_t(in_size), [&](size_t img, int thread) {
        uint8_t* mine = planes + thread * in_size;
        quantize_->fn(in + int64_t(img) * in_size, 1, size_t(in_size), size_t(in_size), act_, 0, mine, size_t(in_size));
        transpose(mine, g_.in_c, hw, codes + int64_t(img) * in_size);
      });
    }

    if (linear()) {
      gemm(pool, 0, codes, batch, g_.in_c, out);
      return;
    }
    const int64_t slab = slab_images(batch);
    for (int64_t img0 = 0; img0 < batch; img0 += slab) {
      const int64_t images = std::min(slab, batch - img0), m = images * pixels;
      for (int64_t grp = 0; grp < g_.groups; ++grp) {
        const uint8_t* a = codes + img0 * in_size;
        if (!direct_) {
          const int64_t chunk = 64;
          pool.parallel_for(size_t((m + chunk - 1) / chunk), size_t(chunk * k_), [&](size_t c, int) {
            const int64_t m0 = int64_t(c) * chunk;
            im2col(codes + img0 * in_size, grp, m0, std::min(m, m0 + chunk), rows);
          });
          a = rows;
        }
        gemm(pool, grp, a, m, direct_ ? g_.in_c : k_, y);
      }
      // [image][pixel][channel] -> NCHW, or the reader's codes of those floats.
      pool.parallel_for(size_t(images), size_t(pixels * g_.out_c), [&](size_t i, int) {
        const float* yi = y + int64_t(i) * pixels * g_.out_c;
        float* oi = out + (img0 + int64_t(i)) * pixels * g_.out_c;
        if (!codes_out_) return transpose(yi, pixels, g_.out_c, oi);
        const size_t n = size_t(pixels * g_.out_c);
        auto* bytes = reinterpret_cast<uint8_t*>(oi);
        if (codes_out_->layout == CodeLayout::nhwc)
          return quantize_->fn(yi, 1, n, n, codes_out_->act, codes_out_->add, bytes, n);
        thread_local std::vector<uint8_t> nhwc;
        nhwc.resize(n);
        quantize_->fn(yi, 1, n, n, codes_out_->act, codes_out_->add, nhwc.data(), n);
        transpose(nhwc.data(), pixels, g_.out_c, bytes);
      });
    }
  }

 private:
  bool linear() const { return g_.in_h == 1 && g_.in_w == 1 && g_.out_h == 1 && g_.out_w == 1 && g_.groups == 1 && k_ == g_.in_c; }
  int64_t slab_images(int64_t batch) const {
    if (linear()) return batch;
    return std::clamp<int64_t>(kSlabRows / (g_.out_h * g_.out_w), 1, batch);
  }
  // Floats holding the byte buffers of run().
  size_t code_floats(int64_t batch, int threads) const {
    const int64_t in = g_.in_c * g_.in_h * g_.in_w;
    size_t bytes = size_t((batch + threads) * in);
    if (!direct_) bytes += size_t(slab_images(batch) * g_.out_h * g_.out_w * k_);
    return (bytes + sizeof(float) - 1) / sizeof(float);
  }
  sbin::Method method(const sbin::BitmapWeights& w, int64_t rows) const {
    return sbin::choose_method(w.bits, rows, isa_);
  }
  const char* ukernel_name(sbin::Method m) const {
    return m == sbin::Method::lut ? sbin::lut_config_for(isa_).name : sbin::bitmap_config_for(isa_).name;
  }

  // Rows [m0, m1) (m = image * pixels + pixel) of conv group `grp`: K bytes each, in the
  // weight's (kh, kw, c) order; taps outside the image are code 0, byte 0 either way.
  void im2col(const uint8_t* nhwc, int64_t grp, int64_t m0, int64_t m1, uint8_t* rows) const {
    const int64_t pixels = g_.out_h * g_.out_w;
    for (int64_t m = m0; m < m1; ++m) {
      uint8_t* row = rows + m * k_;
      const int64_t img = m / pixels, oh = m % pixels / g_.out_w, ow = m % g_.out_w;
      const uint8_t* image = nhwc + img * g_.in_h * g_.in_w * g_.in_c + grp * cg_;
      for (int64_t kh = 0; kh < g_.kernel_h; ++kh) {
        const int64_t ih = oh * g_.stride_h - g_.pad_top + kh * g_.dilation_h;
        for (int64_t kw = 0; kw < g_.kernel_w;) {
          const int64_t iw = ow * g_.stride_w - g_.pad_left + kw * g_.dilation_w;
          uint8_t* dst = row + (kh * g_.kernel_w + kw) * cg_;
          if (ih >= 0 && ih < g_.in_h && iw >= 0 && iw < g_.in_w) {
            // With one group and no dilation the taps inside the image are adjacent pixels,
            // contiguous in NHWC: one copy for them all (one per tap, 16 bytes each on a
            // 16-channel layer, cost more than the kernel).
            int64_t taps = 1;
            if (cg_ == g_.in_c && g_.dilation_w == 1)
              taps = std::min(g_.kernel_w - kw, g_.in_w - iw);
            std::memcpy(dst, image + (ih * g_.in_w + iw) * g_.in_c, size_t(taps * cg_));
            kw += taps;
          } else {
            std::memset(dst, 0, size_t(cg_));
            ++kw;
          }
        }
      }
    }
  }

  // y[m][grp * og + n] for the m rows of `a` (stride lda) against conv group grp's filters,
  // as tasks of whole lut blocks (or bitmap tiles) of rows, times parts of whole panels of
  // filters when there are too few row tasks to keep the threads busy; lut never splits
  // filters then, so no thread rebuilds another's tables. Bounded row tasks also keep the
  // driver's int32 buffer of each call small.
  void gemm(ThreadPool& pool, int64_t grp, const uint8_t* a, int64_t m, int64_t lda, float* y) const {
    const sbin::BitmapWeights& w = weights_[size_t(grp)];
    const sbin::Method meth = method(w, m);
    const bool lut = meth == sbin::Method::lut;
    const sbin::QuantizedRows rows{a, m, k_, lda, act_.is_signed, act_.scale};
    const int64_t lanes = int64_t(sbin::lut_config_for(isa_).lanes), threads = pool.size();
    const int64_t row_align = lut ? lanes : kBitmapRowAlign;
    int64_t row_parts = ceil_div(m, lut ? kLutTaskBlocks * lanes : kBitmapTaskRows);
    if (lut && m >= 2 * lanes * threads) row_parts = std::max(row_parts, threads);
    const bool split_filters = row_parts < (lut ? threads : 2 * threads);
    const int64_t filter_parts = split_filters ? std::clamp<int64_t>(ceil_div(og_, kFilterAlign), 1, threads) : 1;
    const auto bound = [](int64_t total, int64_t parts, int64_t align, int64_t i) {
      return i == parts ? total : total * i / parts / align * align;
    };
    const float* bias = bias_.empty() ? nullptr : bias_.data() + grp * og_;
    float* yg = y + grp * og_;
    const int64_t tasks = row_parts * filter_parts;
    pool.parallel_for(size_t(tasks), size_t(m * og_ * k_ / tasks), [&](size_t t, int) {
      const int64_t r = int64_t(t) / filter_parts, f = int64_t(t) % filter_parts;
      sbin::gemm(w, meth, isa_, rows, bias, relu_, yg, g_.out_c, bound(m, row_parts, row_align, r),
                 bound(m, row_parts, row_align, r + 1), bound(og_, filter_parts, kFilterAlign, f),
                 bound(og_, filter_parts, kFilterAlign, f + 1));
    });
  }

  bool binary_;
  ActQuant act_;
  bool relu_;
  std::vector<float> bias_;
  Isa isa_;
  const kernels::QuantizeKernel* quantize_;
  ConvGeometry g_;
  int64_t og_ = 0, cg_ = 0, k_ = 0;
  bool direct_ = false;
  std::vector<sbin::BitmapWeights> weights_;  // per conv group
  std::unique_ptr<kernels::IntLayer> gemv_;   // linear layers at batch 1
  bool codes_in_ = false;                     // the input is NHWC codes (code_inputs)
  std::optional<CodeFormat> codes_out_;       // the output is the reader's codes
};

}  // namespace

extern const LayerProvider layer_provider_signed_binary = {
    "signed_binary",
    [](const LayerDesc& d) { return supports_bitmap(d, Encoding::signed_binary); },
    [](const LayerDesc& d, const SessionOptions&) {
      return std::unique_ptr<Layer>(std::make_unique<BitmapLayer>(d, false));
    },
    defers_to_ternary,
};

extern const LayerProvider layer_provider_binary = {
    "binary",
    [](const LayerDesc& d) { return supports_bitmap(d, Encoding::binary); },
    [](const LayerDesc& d, const SessionOptions&) {
      return std::unique_ptr<Layer>(std::make_unique<BitmapLayer>(d, true));
    },
    defers_to_ternary,
};

}  // namespace stern
