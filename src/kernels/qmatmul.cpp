#include "kernels/qmatmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "kernels/qpack.h"
#include "runtime/int_layers.h"
#include "stern/error.h"

namespace stern::kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// csum[p] = the sum of `channels` signed bytes of pixel p (pixels `stride` bytes apart): the
// per-pixel sums from which the ternary correction's window sums are added up.
void channel_sums(const uint8_t* bytes, int64_t pixels, int64_t stride, int64_t channels,
                  std::vector<int32_t>& csum) {
  csum.resize(pixels);
  for (int64_t p = 0; p < pixels; ++p) {
    const int8_t* px = reinterpret_cast<const int8_t*>(bytes) + p * stride;
    int32_t sum = 0;
    for (int64_t ch = 0; ch < channels; ++ch) sum += px[ch];
    csum[p] = sum;
  }
}

// One integer matrix of a layer: the codes (or |codes| for the asymmetric half) packed for
// the method, with their float scale and integer row sum per (row, scale group).
struct Part {
  aligned_vector<uint8_t> dense;
  PlaneConvWeights planes;  // plane_conv
  SparseRows sparse;
  SparseBands bands;  // linear layers: the GEMV layout for batch 1
  std::vector<float> scale;   // alpha * out_scale * act_scale, rows * groups
  std::vector<int32_t> wsum;  // sum of the codes, rows * groups
};

// Activations of one kernel call: M pixels of one conv group in the method's layout.
struct Activations {
  aligned_vector<uint8_t> image;  // quantized input bytes: NHWC (dense), the GEMV's row
  aligned_vector<uint8_t> padded; // implicit dense conv: the padded NHWC image
  aligned_vector<uint8_t> rows;   // dense / sparse GEMV: [M][K'] bytes
  std::vector<int32_t> xsum;      // ternary dense: [M][groups] sums of the row bytes
  std::vector<int32_t> csum;      // ternary dense, one group: channel sums per input pixel
  aligned_vector<uint8_t> tiles;  // sparse GEMM: padded (phase) planes, or [tiles][K'][64] bytes
  aligned_vector<uint8_t> strided; // sparse GEMM at stride > 1: the padded planes of the phases
  aligned_vector<uint8_t> packed; // sparse GEMM on packed planes (IntLayer::Impl::packed)
  const uint8_t* tile_bytes = nullptr;  // sparse GEMM: tiles.data(), or the input's planes
  std::vector<Run> runs;          // sparse GEMM: output pixels of the tiles' lanes
  std::vector<size_t> tile_runs;  // sparse GEMM: runs of tile t: [tile_runs[t], tile_runs[t + 1])
  int64_t tile_stride = 0;        // bytes between consecutive tiles
};

// Per-thread output tiles, one cache line apart: the epilogue's row table grows in one
// thread's Tile while the other reads its own (3x3 256->256 dense at 2 threads: 74 -> 72 us).
// The sums 64-byte aligned: an AMX tile's 64-byte rows store whole lines (the 3x3 256->256
// layer at 14x14, 1 thread, Sapphire Rapids: min 83-84 -> 78-81 us).
struct alignas(64) Tile {
  aligned_vector<int32_t> raw;
  std::vector<float> acc;
  std::vector<uint32_t> rows;  // implicit dense conv: the raw row of each output pixel
};

}  // namespace

const char* method_name(Method m) {
  switch (m) {
    case Method::ternary_dense: return "ternary_dense";
    case Method::ternary_sparse: return "ternary_sparse";
    case Method::int8: return "int8";
  }
  return "?";
}

namespace {

bool linear_geometry(const ConvGeometry& g) {
  return g.in_h == 1 && g.in_w == 1 && g.out_h == 1 && g.out_w == 1 && g.kernel_h == 1 &&
         g.kernel_w == 1 && g.groups == 1;
}

// A convolution with enough output pixels for the GEMM tiles (not a GEMV).
bool gemm_sized(const ConvGeometry& conv) {
  return !linear_geometry(conv) && conv.out_h * conv.out_w >= int64_t(kTileGemmMinRows);
}

}  // namespace

bool ternary_on_tile_gemm(const ConvGeometry& conv, Isa cap) {
  return gemm_sized(conv) && best_dense(WeightFormat::int8, KernelOp::tile_gemm, cap).op == KernelOp::tile_gemm;
}

bool ternary_as_int8(const ConvGeometry& conv, Isa cap) {
  return ternary_on_tile_gemm(conv, cap) ||
         (gemm_sized(conv) && best_dense(WeightFormat::int8, KernelOp::gemm, cap).needs.isa == Isa::avx512_vnni);
}

// Ice Lake (two VNNI ports), 69% sparse, 1 thread, `stern bench --layer ... --encoding
// signed-binary` against `--kernel ternary`, min: 3x3 16->16 at 28x28 129 (72 with the later
// im2col fix) -> 14 us (the sparse GEMM), 64->64 at 56x56 959 (900) -> 538, 128->128 at
// 28x28 710 -> 431, 256->256 at 14x14 520 -> 369, 256->256 at 7x7 145 -> 96; but with 2.4 MB
// of int8 weights (512->512) 1945 -> 2788 at 14x14 and 514 -> 829 at 7x7, and 256->512
// (1.2 MB) about even.
bool bitmap_conv_runs_as_int8(const ConvGeometry& conv, Isa cap, bool vnni_dual) {
  if (ternary_on_tile_gemm(conv, cap)) return true;
  const int64_t int8_weight_bytes = conv.out_c * (conv.in_c / conv.groups) * conv.kernel_h * conv.kernel_w;
  return vnni_dual && ternary_as_int8(conv, cap) && int8_weight_bytes <= (int64_t(1) << 20);
}

bool sparse_planes_packed(const ConvGeometry& conv, bool small_codes, Isa cap) {
  return small_codes && !linear_geometry(conv) && conv.stride_h == 1 && conv.stride_w == 1 && conv.out_h >= 2 &&
         best_sparse_gemm_p4(cap) != nullptr;
}

int64_t plane_conv_operands(const ConvGeometry& conv) {
  return conv.in_c / conv.groups * conv.kernel_h * ceil_div(conv.kernel_w, int64_t(kPlaneConvMaxTaps));
}

// Dense stride-1 convolutions of few input channels multiply over channel planes, where
// im2col rows of a few bytes per pixel and K padded to 16 columns cost more than the
// products: while a pixel's operands (input channels x kernel rows x runs of 4 taps) are
// at most 12 (int8 layers without VNNI: 96, below). Ice Lake, 1 thread, int8, `stern bench
// --layer` medians, GEMM / planes (VNNI; AVX2 by STERN_ISA=avx2): operands 3: 1->16 3x3 at 28x28 10.8 / 5.6 us (batch 64 0.82 /
// 0.35 ms; AVX2 16.1 / 7.9); 9: 3->32 at 32x32 28.2 / 16.9, 3->64 at 56x56 118 / 101
// (AVX2 283-292 / 196); 10: 1->6 5x5 at 28x28 11.7 / 5.8 (AVX2 19.9 / 7.7), 1->32 5x5 17.2
// / 14.2; 12: 4->64 at 56x56 129 / 116 (AVX2 365-380 / 246-248); 24: 8->32 at 32x32 39.6
// / 30.8 but 8->64 at 56x56 167 / 177; 30: 3->64 5x5 at 32x32 56 / 73 (AVX2 even); 42:
// 3->64 7x7 at 32x32 89 / 97 (AVX2 312 / 242), at 112x112 1.10 / 1.10 ms; 48: 16->64 at
// 28x28 50 / 80. Dense ternary on AVX2's 2-bit GEMM alike (1->16 19.0 / 7.9-15.3, 4->64
// 269-287 / 235-239, 8->64 380 / 418). On AVX2 int8 layers take planes up to 96 operands:
// the AVX2 int8 GEMM splits every activation byte in two (8->64 at 56x56 558-574 / 419-431,
// 16->64 at 28x28 220 / 194, 32->64 at 56x56 1.72 / 1.48 ms, 32->64 at 28x28 411-415 /
// 375-382; beyond, 64->64 at 28x28 0.80 / 0.75 ms but 128->128 at 14x14 0.77 / 0.96). The
// scalar kernel is the reference, never chosen.
bool dense_on_plane_conv(const ConvGeometry& conv, Method method, Isa cap) {
  const PlaneConvKernel& kernel = best_plane_conv(cap);
  const int64_t max_operands = kernel.needs.isa < Isa::avx512_vnni && method == Method::int8 ? 96 : 12;
  const int64_t per_run = std::min<int64_t>(conv.kernel_w, kPlaneConvMaxTaps);
  return method != Method::ternary_sparse && kernel.needs.isa != Isa::scalar && !linear_geometry(conv) &&
         conv.stride_h == 1 && conv.stride_w == 1 && conv.groups == 1 && plane_conv_operands(conv) <= max_operands &&
         (per_run - 1) * conv.dilation_w <= plane_conv_max_tap_span(kernel);
}

// The row tiles of the AMX implicit convolution (igemm.h ConvUkernel): one output row per
// tile, only its real pixels, where that costs the tile unit less than 16-pixel tiles over
// the padded width, padding columns included. A TDPBUSD's time grows with its rows (Sapphire
// Rapids, rows3 loop in L1, random bytes: 6.55 ns at 16 rows, 5.94 at 14, 5.55 at 12, 4.3 at
// 8, ~4.1 below): 14x14 layers take 14 tiles of 14 rows instead of 14 of 16; 7x7 layers stay
// on 16-row tiles (4 for 61 pixels, against 7 of 7 rows). Returns {rows, pitch}.
std::pair<int64_t, int64_t> conv_row_tiles(int64_t out_h, int64_t out_w, int64_t padded_width) {
  const auto tile_ns = [](int64_t rows) { return std::max(4.1, 2.1 + 0.28 * double(rows)); };
  constexpr int64_t t = 16;  // rows of an AMX tile
  const int64_t virtual_pixels = out_h * padded_width;
  const double by_16 = double(virtual_pixels / t) * tile_ns(t) + (virtual_pixels % t ? tile_ns(virtual_pixels % t) : 0);
  if (out_w <= t && double(out_h) * tile_ns(out_w) < by_16) return {out_w, padded_width};
  return {t, t};
}

struct IntLayer::Impl {
  Method method;
  ConvGeometry g;
  ActQuant act;
  bool relu;
  std::vector<float> bias;
  int64_t og, cg, k, pixels;
  bool linear;
  ColumnLayout layout;
  size_t stride = 0, panels = 0;          // dense panels of one conv group
  std::vector<std::vector<Part>> parts;   // [conv group][part]
  std::vector<int64_t> kperm;             // sparse GEMM: padded column of weight column k
  std::vector<int32_t> column_offset;     // sparse GEMM: padded column j of a tile at tile + column_offset[j]
  int64_t span = 0;                       // sparse GEMM: padded columns per segment
  int32_t add = 0;                        // activation byte = q + add
  int32_t xcoef = 0, wcoef = 0;           // raw - xcoef * xsum + wcoef * wsum
  const DenseKernel* gemm = nullptr;
  const DenseKernel* gemv = nullptr;
  const DenseKernel* tile_gemm = nullptr;
  const SparseGemvKernel* sgemv = nullptr;
  const SparseGemmKernel* sgemm = nullptr;
  const QuantizeKernel* quantize = nullptr;
  const QuantizeNhwcKernel* quantize_nhwc = nullptr;
  const DealPhasesKernel* deal_phases = nullptr;
  const CopyRowsKernel* copy_rows = nullptr;
  const EpilogueKernel* epilogue_kernel = nullptr;
  const EpilogueCodesKernel* epilogue_codes = nullptr;  // the same, requantized into NHWC codes
  const RunsEpilogueKernel* runs_epilogue = nullptr;
  const ConvKernel* conv = nullptr;  // implicit dense conv (below), else null
  int64_t conv_tile_rows = 0, conv_tile_pitch = 0;  // its row tiles (igemm.h ConvUkernel; conv_row_tiles)
  const IgemmKernel* igemm = nullptr;  // indirect dense conv (below), else null
  std::vector<int32_t> koff;    // implicit / indirect dense conv: offset of each 16-column block from a window
  std::vector<int32_t> window;  // indirect dense conv: offset of each output pixel's window in the padded image
  const PlaneConvKernel* plane_conv = nullptr;  // dense conv over channel planes (below), else null
  std::vector<Activations> acts;  // per thread (images per thread) or [0] shared
  std::vector<Tile> tiles;        // per thread
  double image_ns = 0;            // estimated time of one image (linear: one batch row), 1 thread
  double split_min_ns = 0;        // work splits across threads from this estimate (run)
  double row_adds_ns = 0;         // sparse layers: the adds of one output pixel (linear: batch row)
  bool codes_in = false;          // the input is bytes in a format of code_inputs()
  bool planes_in = false;         // ... and those bytes are the sparse GEMM's planes
  // Sparse stride-1 convolutions on codes of at most 4 bits (AVX-512): the planes packed two
  // codes per byte, the low nibble padded row i, the high one row i + half_rows, so that one
  // load reads two output pixels per lane (tsparse_gemm_128x1_p4).
  bool packed = false;
  int64_t half_rows = 0;  // packed: the first half's output rows, ceil(out_h / 2)
  std::optional<CodeFormat> codes_out;  // the output is bytes in this format
  std::vector<uint8_t> pad_bytes;       // codes_out planes: a row of the reader's padding

  bool dense() const { return method != Method::ternary_sparse; }
  // Dense stride-1 convolutions with few input channels multiply over the sparse GEMM's
  // implicit tiles instead (its planes, runs and epilogues; plane_conv); the other dense
  // layers over im2col rows or the padded NHWC image.
  bool gemm_dense() const { return dense() && !plane_conv; }
  // Dense convolutions on the tile GEMM read A straight from a padded NHWC image (no im2col
  // rows) when stride 1, one conv group, one part, one scale group, channels a multiple of 16.
  bool implicit_dense() const { return conv != nullptr; }
  // Elsewhere such convolutions with int8 weights (any stride, dilation) read it through
  // per-pixel window offsets (the IGEMM), when the CPU has a vector kernel for them.
  bool indirect_dense() const { return igemm != nullptr; }
  // Other dense convolutions of one group, identity column order and no dilation build their
  // im2col rows from the same padded image, one copy per kernel row and no bounds checks.
  bool padded_rows() const {
    return gemm_dense() && !linear && !implicit_dense() && !indirect_dense() && g.groups == 1 && layout.identity() &&
           g.dilation_h == 1 && g.dilation_w == 1 && (xcoef == 0 || layout.groups == 1);
  }
  void padded_image(const float* in, Activations& a) const;
  void reserve_padded(Activations& a) const;
  void padded_image_rows(const float* in, Activations& a, int64_t y0, int64_t y1) const;
  void rows_from_padded(const Activations& a, int64_t m0, int64_t m1, uint8_t* out, int32_t* xsum) const;
  // Chunks of panels of at most 1 MiB of weights each, a multiple of `threads` (at most one
  // per panel): a chunk's weights stay in L2 across its row tiles. 3x3 512->512 (2.3 MiB of
  // int8 weights): one chunk per thread cost the Xeon's tile GEMM 1.35x at 7x7; on Ice Lake
  // (1.25 MiB L2) the IGEMM at 7x7 1 thread 0.66 -> 0.44 ms, 2 threads 0.213 -> 0.188, at
  // 14x14 2.46 -> 1.59 and 0.80 -> 0.71 (chunks of 512 KiB: 0.45 / 0.22 ms at 7x7).
  int64_t weight_chunks(int threads) const {
    constexpr int64_t kChunkBytes = 1 << 20;
    return std::min<int64_t>(int64_t(panels), ceil_div(ceil_div(int64_t(panels * stride), kChunkBytes), threads) * threads);
  }
  const DenseKernel& dense_kernel(int64_t m) const {
    return m == 1 ? *gemv : m >= int64_t(kTileGemmMinRows) ? *tile_gemm : *gemm;
  }
  // Sparse linear layers at batch 1 run the GEMV, others the GEMM over 64-pixel tiles.
  bool sparse_gemv(int64_t m) const { return method == Method::ternary_sparse && linear && m == 1; }
  // Whether a linear layer splits `batch` rows across threads: a GEMV or a dense GEMM by its
  // estimate (split_min_ns). A sparse batch by what the split saves: both threads read every
  // quantized tile, so it halves the adds only, and pays for the tile lines the other core
  // wrote (0.055 ns per input value) and two hand-offs (2 us), both fitted on Sapphire Rapids
  // (2 threads against 1, medians, us): 1568->128 at 95% sparsity lost at batch 64 (31-37
  // against 27-30; 60-70 against 30-32 inside the Fashion VGG) and 128 (66-69 against 58), and
  // gained at 256 (153 against 163); 1568->512 at 90% gained at batch 16 (47 against 55),
  // 1024->1024 at 90% at batch 8 (25 against 33).
  bool linear_split(int64_t batch) const {
    if (batch == 1 || dense()) return double(batch) * image_ns >= split_min_ns;
    const double saved_ns = double(batch) * (row_adds_ns / 2 - 0.055 * double(layout.cols)) - 2000.0;
    return split_min_ns <= 0 || saved_ns >= 0;
  }

  void quantize_image(const float* in, int64_t images, Activations& a) const;
  void build_rows(const Activations& a, int64_t grp, int64_t m0, int64_t m1, uint8_t* out,
                  int32_t* xsum) const;
  bool implicit_tiles() const { return !linear && g.stride_h == 1 && g.stride_w == 1; }
  // The input image with its padding (the dense methods' padded image, the sparse planes).
  int64_t padded_width() const { return g.in_w + g.pad_left + g.pad_right; }
  int64_t padded_height() const { return g.in_h + g.pad_top + g.pad_bottom; }
  // The sparse GEMM reads the tiles of every convolution as windows of channel planes (below);
  // linear layers over a batch copy k-major tiles. At stride s the planes are the phases of
  // each padded plane: phase (py, px) holds its rows py, py + s_h, ... and columns px, px +
  // s_w, ..., so tap (kh, kw), at padded row oh s_h + kh d_h, is row oh + kh d_h / s_h of phase
  // kh d_h % s_h (columns alike): the windows of a stride-1 convolution, phases() planes per
  // channel, of plane_width() x plane_height() (the padded plane's at stride 1).
  int64_t phases() const { return g.stride_h * g.stride_w; }
  int64_t plane_width() const { return ceil_div(padded_width(), g.stride_w); }
  int64_t plane_height() const { return ceil_div(padded_height(), g.stride_h); }
  // Implicit tiles: 64 lanes each over the output rows numbered at the plane width, up to
  // the last output pixel (packed: over the first half's rows, each lane also the pixel
  // half_rows rows below); unpacked, the last tile takes a rest of at most 32 lanes
  // (kSparseTileLanes).
  int64_t implicit_lanes() const { return ((packed ? half_rows : g.out_h) - 1) * plane_width() + g.out_w; }
  int64_t implicit_tile_count() const { return sparse_tile_count(implicit_lanes(), packed); }
  // The virtual pixels of implicit tile t: [64 t, tile_end(t)).
  int64_t tile_end(int64_t t) const { return sparse_tile_end(t, implicit_lanes(), packed); }
  void sparse_columns(double nonzeros_per_row, int64_t l1d_bytes, const std::string& where);
  // Implicit tiles: bytes between `rows` padded rows of channel planes; those of the padded
  // input (padded_plane_bytes) and those the kernel walks (plane_bytes: packed, half_rows +
  // the kernel's reach); the planes in the input's float slot, if they fit there with the
  // slack the windows read past the last one.
  int64_t plane_bytes_of(int64_t rows) const;
  int64_t padded_plane_bytes() const { return plane_bytes_of(plane_height()); }
  int64_t plane_bytes() const {
    return packed ? plane_bytes_of(half_rows + (g.kernel_h - 1) * g.dilation_h) : padded_plane_bytes();
  }
  // Byte of a plane's first code (row pad_top, column pad_left).
  int64_t plane_origin() const { return g.pad_top * padded_width() + g.pad_left; }
  // A buffer of `channels` planes `stride` bytes apart, with the slack the last tiles'
  // windows read past the last plane.
  int64_t planes_buffer_bytes(int64_t channels, int64_t stride) const {
    return channels * stride + ceil_div(implicit_lanes(), int64_t(kSparseTile)) * int64_t(kSparseTile) + stride;
  }
  void pack_halves(const uint8_t* padded, uint8_t* out) const;
  std::optional<CodeFormat> planes_format() const;
  int64_t sparse_tiles(Activations& a, const float* in, int64_t grp, int64_t m,
                       const std::function<void(size_t, const std::function<void(size_t)>&)>& parallel) const;
  void compute(const float* in, int64_t images, float* out, ThreadPool* pool, Activations& a,
               int thread_base);
  void epilogue(const Part& p, int64_t group, int32_t wc, const int32_t* raw, size_t ldr,
                const int32_t* xsum, int64_t m0, int64_t mr, int64_t n0, int64_t nn, bool first,
                float* acc) const;
  void finish(const Part& p, int32_t wc, const int32_t* raw, size_t ldr, const int32_t* xsum,
              int64_t m0, int64_t mr, int64_t grp, int64_t n0, int64_t nn, float* out,
              int64_t ldm, int64_t ldn, const uint32_t* rows = nullptr) const;
  void store(const float* acc, int64_t grp, int64_t m0, int64_t mr, int64_t n0, int64_t nn,
             float* out, int64_t ldm, int64_t ldn) const;
  void requantize(const float* planes, int64_t grp, int64_t m0, int64_t mr, int64_t n0, int64_t nn, float* out,
                  int64_t ldn) const;
  void write_planes(const int32_t* raw, size_t ldr, const EpilogueArgs& e, std::vector<Run>& runs, int64_t tile, bool last_tile,
                    size_t lanes, int64_t n0, int64_t nn, float* out) const;
};

bool IntLayer::supports(const WeightMatrix& w, const ActQuant& act, Method method) {
  if (act.bits < 2 || act.bits > 8 || w.cols > kMaxCols || w.codes.empty()) return false;
  if (method == Method::int8) return true;
  return std::all_of(w.codes.begin(), w.codes.end(), [](int8_t c) { return c >= -1 && c <= 1; });
}

IntLayer::IntLayer(const WeightMatrix& w, const ConvGeometry& conv, const ActQuant& act,
                   std::span<const float> out_scale, std::span<const float> bias, bool relu,
                   const IntLayerOptions& options, const std::string& where)
    : impl_(std::make_unique<Impl>()) {
  Impl& L = *impl_;
  if (!supports(w, act, options.method))
    fail(where, std::string("weights or activations do not fit the ") + method_name(options.method) +
                    " kernels (codes, act_bits 2..8, at most " + std::to_string(kMaxCols) + " columns)");
  L.method = options.method;
  L.g = conv;
  L.act = centered(act);
  L.relu = relu;
  L.bias.assign(bias.begin(), bias.end());
  L.og = conv.out_c / conv.groups;
  L.cg = conv.in_c / conv.groups;
  L.k = w.cols;
  L.pixels = conv.out_h * conv.out_w;
  L.linear = linear_geometry(conv);
  if (w.rows != conv.out_c || w.cols != L.cg * conv.kernel_h * conv.kernel_w)
    fail(where, "weight matrix " + std::to_string(w.rows) + "x" + std::to_string(w.cols) +
                    " does not match the layer geometry");
  L.layout = column_layout(w.cols, w.group, L.dense() ? int64_t(kKBlock) : int64_t(kSparseBlock));

  const Isa cap = options.isa;
  L.quantize = &best_quantize(cap);
  L.quantize_nhwc = &best_quantize_nhwc(cap);
  L.deal_phases = &best_deal_phases(cap);
  L.copy_rows = &best_copy_rows(cap);
  L.epilogue_kernel = &best_epilogue(cap);
  L.epilogue_codes = &best_epilogue_codes(cap);
  L.runs_epilogue = &best_runs_epilogue(cap);
  if (dense_on_plane_conv(conv, L.method, cap) && !w.asymmetric && L.layout.groups == 1)
    L.plane_conv = &best_plane_conv(cap);
  const WeightFormat format =
      L.plane_conv || L.method == Method::int8 || (L.method == Method::ternary_dense && ternary_as_int8(conv, cap))
          ? WeightFormat::int8
          : WeightFormat::ternary2;
  if (L.dense() && format == WeightFormat::ternary2) {
    // int8 bytes q - 128 when 8-bit unsigned codes would not fit, else q itself.
    L.add = !act.is_signed && act.bits == 8 ? -128 : 0;
    L.xcoef = 1;
  } else if (!L.dense() && small_codes(act)) {
    // Codes of at most 4 bits as bytes q - qmin, at most 15, for the sparse GEMM's u4 kernels.
    L.add = -act.qmin;
    L.xcoef = 0;
  } else {
    L.add = act.is_signed ? 128 : 0;  // uint8 bytes
    L.xcoef = 0;
  }
  // The kernels see centred codes q - zero_point (layer.h centered): same bytes, the zero
  // point moves into the offset.
  L.add += act.zero_point;
  L.wcoef = -L.add;
  if (L.dense()) {
    L.gemm = &best_dense(format, KernelOp::gemm, cap);
    L.gemv = &best_dense(format, KernelOp::gemv, cap);
    L.tile_gemm = &best_dense(format, KernelOp::tile_gemm, cap);
    const ConvKernel& conv_kernel = best_conv(cap);
    if (conv_kernel.needs.isa == Isa::amx && L.tile_gemm->op == KernelOp::tile_gemm && L.implicit_tiles() &&
        conv.groups == 1 && !w.asymmetric && L.layout.groups == 1 && L.layout.identity() && L.cg % 16 == 0 &&
        L.pixels >= int64_t(kTileGemmMinRows))
      L.conv = &conv_kernel;
    if (L.conv) std::tie(L.conv_tile_rows, L.conv_tile_pitch) = conv_row_tiles(conv.out_h, conv.out_w, L.padded_width());
    // The indirect GEMM where the CPU's int8 GEMM has its vector twin (the im2col rows cost the
    // 3x3 256->256 layer at 14x14 ~5% of its time on 1 thread, more on 2, where both cores
    // read the rows one of them built) and no tile GEMM takes the rows (AMX: several times the
    // VNNI kernel's rate; strided layers keep their rows there); the scalar ISA keeps the
    // rows, the reference path.
    const IgemmKernel& igemm_kernel = best_igemm(cap);
    const bool rows_on_tile_gemm = L.tile_gemm->op == KernelOp::tile_gemm && L.pixels >= int64_t(kTileGemmMinRows);
    if (!L.conv && !L.plane_conv && !rows_on_tile_gemm && format == WeightFormat::int8 &&
        igemm_kernel.needs.isa != Isa::scalar && igemm_kernel.needs.isa == L.gemm->needs.isa && !L.linear &&
        conv.groups == 1 && !w.asymmetric && L.layout.groups == 1 && L.layout.identity() && L.cg % 16 == 0)
      L.igemm = &igemm_kernel;
    if (L.conv || L.igemm)
      L.koff = conv_block_offsets(conv.in_c, conv.kernel_h, conv.kernel_w, conv.dilation_h, conv.dilation_w,
                                  L.padded_width());
    if (L.igemm)
      L.window = conv_window_offsets(conv.out_h, conv.out_w, conv.stride_h, conv.stride_w, conv.in_c, L.padded_width());
    L.stride = panel_stride(L.layout, format);
    L.panels = ceil_div(L.og, kPanel);
  } else {
    L.sgemv = &best_sparse_gemv(cap);
    // Codes of at most 4 bits: the u4 kernel on AVX2 (the 3x3 256->256 layer's GEMM at 90%
    // 242 -> 187 us on Ice Lake), packed planes on AVX-512 for stride-1 convolutions.
    L.sgemm = &best_sparse_gemm(cap, small_codes(act));
    if (sparse_planes_packed(conv, small_codes(act), cap)) {
      L.sgemm = best_sparse_gemm_p4(cap);
      L.packed = true;
      L.half_rows = ceil_div(conv.out_h, int64_t(2));
    }
    L.sparse_columns(double(w.nonzeros()) / double(w.rows),
                     options.l1d_bytes ? options.l1d_bytes : cpu_features().l1d_bytes, where);
  }

  // Splitting one image of a convolution across threads costs the hand-offs and moving its
  // activations between cores, a few microseconds: below ~30 us of estimated work it made 2
  // threads slower than 1 (2-core Xeon, batch 1: dense 3x3 64->64 at 14x14 9.2 -> 10.5 us,
  // 98%-sparse 32->64 at 14x14 6.4 -> 12.4 us; the 256->256 layers at 14x14 gain 1.2-1.25x).
  // The estimate, fitted on those layers: 0.24 ns per input and output value (quantizer,
  // epilogue) plus 0.00047 ns per dense multiply-add on the tile unit (the cost model's
  // kAvx512Costs.dense_gemm_per_mac on VNNI) or 0.02 ns per sparse add. Linear layers split
  // their batch rows by the same estimate, plus the sparse GEMV's 0.5 ns per row and 128
  // columns (kAvx512Costs): a batch-1 GEMV of 4096^2 weights splits, where the Fashion VGG's
  // 1568->128 layer at 95% sparsity (~1.4 us estimated) took 3.0 us on 1 thread and 4.8-5.0 on
  // 2 (Ice Lake).
  {
    const double values = double(conv.in_c * conv.in_h * conv.in_w + conv.out_c * L.pixels);
    const double mac_ns = L.tile_gemm && L.tile_gemm->op == KernelOp::tile_gemm ? 0.00047 : kAvx512Costs.dense_gemm_per_mac;
    const double headers = L.linear && !L.dense() ? kAvx512Costs.sparse_gemv_per_block * double(w.rows) * std::ceil(double(w.cols) / 128.0) : 0.0;
    L.row_adds_ns = L.dense() ? 0.0 : 0.02 * double(w.nonzeros());
    const double work = L.dense() ? mac_ns * double(w.rows) * double(w.cols) * double(L.pixels)
                                  : L.row_adds_ns * double(L.pixels) + headers;
    L.image_ns = 0.24 * values + work;
    L.split_min_ns = options.split_min_ns;
  }
  const int64_t ng = L.layout.groups;
  const bool asym = w.asymmetric;
  std::vector<int8_t> codes(L.og * L.k);
  L.parts.resize(conv.groups);
  for (int64_t grp = 0; grp < conv.groups; ++grp) {
    for (int part = 0; part < (asym ? 2 : 1); ++part) {
      Part p;
      p.scale.resize(L.og * ng);
      p.wsum.assign(L.og * ng, 0);
      for (int64_t r = 0; r < L.og; ++r) {
        const int64_t row = grp * L.og + r;
        for (int64_t c = 0; c < L.k; ++c) {
          const int8_t code = w.codes[row * L.k + c];
          codes[r * L.k + c] = part == 0 ? code : static_cast<int8_t>(code < 0 ? -code : code);
          p.wsum[r * ng + c / L.layout.group] += codes[r * L.k + c];
        }
        for (int64_t gi = 0; gi < ng; ++gi) {
          const float sp = w.scale_pos[row * ng + gi], sn = w.scale_neg[row * ng + gi];
          const float alpha = !asym ? sp : part == 0 ? 0.5f * (sp + sn) : 0.5f * (sp - sn);
          // In double, rounded once, as the bitmap kernels form theirs (sbin coef_bits): a
          // layer gives the same floats on either family, and the trainer's eval
          // (train/integer_eval.h) repeats this one expression.
          p.scale[r * ng + gi] =
              static_cast<float>(double(act.scale) * (double(alpha) * double(out_scale[row])));
        }
      }
      if (L.plane_conv)
        p.planes = pack_plane_conv(codes.data(), L.og, L.cg, conv.kernel_h, conv.kernel_w, L.plane_bytes(),
                                   conv.dilation_h * L.plane_width(), conv.dilation_w);
      else if (L.dense())
        p.dense = pack_dense(codes.data(), L.og, L.layout, format);
      else
        p.sparse = pack_sparse(codes.data(), L.og, L.layout, L.kperm, L.span, L.column_offset, where);
      if (!L.dense() && L.linear)
        p.bands = pack_sparse_bands(codes.data(), L.og, L.layout, 0, sparse_gemv_pass_lanes(*L.sgemv));
      L.parts[grp].push_back(std::move(p));
    }
  }
}

IntLayer::~IntLayer() = default;

std::vector<CodeFormat> IntLayer::code_inputs() const {
  const Impl& L = *impl_;
  // All these paths are convolutions (padded_rows, indirect_dense: !linear; implicit_dense:
  // implicit_tiles).
  if (L.padded_rows() || L.implicit_dense() || L.indirect_dense()) return {CodeFormat{L.act, L.add, CodeLayout::nhwc}};
  if (L.gemm_dense() || !L.implicit_tiles()) return {};
  std::vector<CodeFormat> formats;
  if (const std::optional<CodeFormat> planes = L.planes_format()) formats.push_back(*planes);
  formats.push_back(CodeFormat{L.act, L.add, CodeLayout::nchw});
  return formats;
}

std::optional<CodeFormat> IntLayer::Impl::planes_format() const {
  // The writer's dropped columns land on the padding as quantized zeros: code 0 must be a code.
  if (act.qmin > 0 || act.qmax < 0) return std::nullopt;
  const int64_t plane = padded_plane_bytes();
  if (planes_buffer_bytes(g.in_c, plane) > g.in_c * g.in_h * g.in_w * int64_t(sizeof(float))) return std::nullopt;
  return CodeFormat{act, add, CodeLayout::planes, padded_width(), plane, plane_origin()};
}

bool IntLayer::emit_codes(const CodeFormat& format) {
  Impl& L = *impl_;
  // The paths through finish() (dense) and the sparse GEMM's runs epilogue: one part, one
  // scale group.
  if (L.linear || L.layout.groups != 1) return false;
  for (const auto& ps : L.parts)
    if (ps.size() != 1) return false;
  if (format.layout == CodeLayout::planes) {
    // Virtual pixel v = oh * wp + ow of this layer is byte origin + v of the reader's plane
    // when both pad rows to the same width: the tiles' lanes go out whole, the columns
    // ow >= out_w (the reader's padding) as code 0.
    // Every tile must hold a run (write_planes writes a tile per run): the tiles end at the
    // last output pixel, and no row's padding columns fill a tile.
    const int64_t wp = L.padded_width();
    const int64_t written = L.implicit_lanes();
    if (L.gemm_dense() || !L.implicit_tiles() || L.packed || format.row_pitch != wp || wp - L.g.out_w >= int64_t(kSparseTile))
      return false;
    L.pad_bytes.assign(size_t(std::max(format.plane_stride - written, format.origin)), uint8_t(format.add));
  }
  L.codes_out = format;
  return true;
}

void IntLayer::take_codes(const CodeFormat& format) {
  const std::vector<CodeFormat> formats = code_inputs();
  if (std::none_of(formats.begin(), formats.end(), [&](const CodeFormat& f) { return f.layout == format.layout; }))
    throw Error("IntLayer: take_codes in a format the layer does not take");
  impl_->codes_in = true;
  impl_->planes_in = format.layout == CodeLayout::planes;
}

const char* IntLayer::kernel_name(int64_t batch) const {
  const Impl& L = *impl_;
  const int64_t m = L.linear ? batch : L.pixels;
  if (L.implicit_dense()) return L.conv->name;
  if (L.plane_conv) return L.plane_conv->name;
  if (L.igemm) return L.igemm->name;
  if (L.dense()) return L.dense_kernel(m).name;
  return L.sparse_gemv(m) ? L.sgemv->name : L.sgemm->name;
}

// The sparse GEMM's column order. Stride-1 convolutions with one scale group and more
// channels than kChannelBlock can run channel block by channel block (segments of kernel_h
// kernel_w kChannelBlock columns, channel-block-major): the shifted windows of a block's
// planes then stay in L1 while every row walks them. Each segment costs every row a pass (its
// sums widened, stored, reloaded), so blocks pay only when the windows one tile reads across
// all channels (per channel the lines of 64 lanes plus the kernel's reach) fill the L1 data
// cache. 90% sparse, 1 thread, blocked against one segment: Ice Lake (48 KiB L1), 3x3 layers
// whose windows take 64 KiB: 512->512 at 7x7 231 / 277 us, at 14x14 775 / 875; 48 KiB:
// 384->384 at 14x14 424 / 416; below: 320->320 (40 KiB) 332 / 282, 256->256 (32 KiB)
// 184 / 168, 192->192 (24 KiB) 111 / 101, 256->256 at 28x28 (32 KiB) 765 / 750. Zen 4 (32
// KiB L1): 256->256 at 14x14 1.2x faster blocked (session 6). With few non-zeros per row and
// segment the passes cost more than the windows' L1 misses, so rows averaging fewer than
// kMinSegmentEntries per segment keep one segment too (98% sparsity: 46 per row; on the Xeon
// 77 -> 70 us for the layer). One segment: the layout's own order.
void IntLayer::Impl::sparse_columns(double nonzeros_per_row, int64_t l1d_bytes, const std::string& where) {
  constexpr int64_t kChannelBlock = 128;
  constexpr double kMinSegmentEntries = 64;
  kperm.resize(layout.cols);
  span = layout.padded_group;
  const double segments = double(ceil_div(cg, kChannelBlock));
  const int64_t wp = padded_width();
  const int64_t reach = (g.kernel_h - 1) * g.dilation_h * wp + (g.kernel_w - 1) * g.dilation_w;
  const int64_t tile_window_bytes = cg * ceil_div(int64_t(kSparseTile) + reach, 64) * 64;
  if (!implicit_tiles() || layout.groups != 1 || cg <= kChannelBlock || tile_window_bytes < l1d_bytes ||
      nonzeros_per_row / segments < kMinSegmentEntries) {
    for (int64_t k = 0; k < layout.cols; ++k) kperm[k] = layout.map(k);
  } else {
    const int64_t taps = g.kernel_h * g.kernel_w;
    span = taps * kChannelBlock;
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t ch = 0; ch < cg; ++ch) {
        const int64_t block = ch / kChannelBlock, width = std::min(kChannelBlock, cg - block * kChannelBlock);
        kperm[t * cg + ch] = block * span + t * width + ch % kChannelBlock;
      }
  }
  // Where each column's activations are in a tile (sparse_tiles): row k of a k-major tile,
  // or the window of channel c's plane (its phase at stride > 1) shifted by the tap's rows
  // and columns.
  column_offset.assign(layout.padded_cols(), 0);
  const int64_t plane = linear ? 0 : plane_bytes(), pw = plane_width();
  if (!linear && (cg * phases() + 1) * plane > std::numeric_limits<int32_t>::max())
    fail(where, "the sparse kernel's activation planes exceed 2 GiB (" + std::to_string(cg * phases()) +
                    " planes of " + std::to_string(plane) + " bytes)");
  for (int64_t k = 0; k < layout.cols; ++k) {
    const int64_t tap = k / cg, ch = k % cg;
    const int64_t dy = tap / g.kernel_w * g.dilation_h, dx = tap % g.kernel_w * g.dilation_w;
    const int64_t phase = dy % g.stride_h * g.stride_w + dx % g.stride_w;
    column_offset[kperm[k]] = static_cast<int32_t>(
        linear ? layout.map(k) * int64_t(kSparseTile)
               : (ch * phases() + phase) * plane + dy / g.stride_h * pw + dx / g.stride_w);
  }
}

// An odd number of cache lines between planes: a block's 128 windows, one per channel,
// would otherwise fall into a few L1 sets (16x16 planes are 256 bytes apart).
int64_t IntLayer::Impl::plane_bytes_of(int64_t rows) const {
  const int64_t plane = ceil_div(rows * plane_width(), 64) * 64;
  return plane / 64 % 2 == 0 ? plane + 64 : plane;
}

// A packed plane from a padded one: byte i = padded[i] | padded[i + half_rows * wp] << 4 over
// the packed rows. Below the padded rows (odd out_h) the high nibble is only read for pixels
// past the last output row, which drop: it holds the padding byte, so that nothing is read
// past the plane. Eight bytes at a time: every byte is at most 15, so the shifted word stays
// in its bytes.
void IntLayer::Impl::pack_halves(const uint8_t* padded, uint8_t* out) const {
  const int64_t wp = padded_width(), hp = padded_height();
  const int64_t rows = half_rows + (g.kernel_h - 1) * g.dilation_h;
  const size_t n = size_t(rows * wp), paired = size_t(std::min(rows, hp - half_rows) * wp);
  const uint8_t* below = padded + half_rows * wp;
  size_t i = 0;
  for (; i + 8 <= paired; i += 8) {
    uint64_t lo, hi;
    std::memcpy(&lo, padded + i, 8), std::memcpy(&hi, below + i, 8);
    lo |= hi << 4;
    std::memcpy(out + i, &lo, 8);
  }
  for (; i < paired; ++i) out[i] = uint8_t(padded[i] | below[i] << 4);
  for (; i < n; ++i) out[i] = uint8_t(padded[i] | add << 4);
}

// Bytes of the whole input for the dense methods (NHWC: im2col copies channel runs) and the
// sparse GEMV.
void IntLayer::Impl::quantize_image(const float* in, int64_t images, Activations& a) const {
  const int64_t hw = g.in_h * g.in_w, c = g.in_c, n = images * hw * c;
  a.image.resize(n + 64);
  if (c == 1 || hw == 1) {  // one layout (the sparse GEMV's linear layers: hw == 1)
    quantize->fn(in, 1, n, n, act, add, a.image.data(), n);
    return;
  }
  for (int64_t img = 0; img < images; ++img)
    quantize_nhwc->fn(in + img * hw * c, c, 1, hw, hw, act, add, a.image.data() + img * hw * c, c, hw * c);
}

// The padded NHWC image of a dense convolution (padding bytes: code 0), the input quantized
// straight into its rows, with slack after it for the windows of the implicit convolution's
// last virtual pixels (and the 16-byte copies of rows_from_padded). With ternary
// corrections, each padded pixel's channel sum.
void IntLayer::Impl::padded_image(const float* in, Activations& a) const {
  reserve_padded(a);
  padded_image_rows(in, a, 0, g.in_h);
  if (xcoef) channel_sums(a.padded.data(), padded_height() * padded_width(), g.in_c, g.in_c, a.csum);
}

// The padded image's buffer, its padding bytes set once.
void IntLayer::Impl::reserve_padded(Activations& a) const {
  const size_t bytes = (padded_height() * padded_width() + (g.kernel_w - 1) * g.dilation_w) * g.in_c + 64;
  if (a.padded.size() != bytes) a.padded.assign(bytes, static_cast<uint8_t>(add));
}

// Input rows [y0, y1) into the padded image (reserve_padded).
void IntLayer::Impl::padded_image_rows(const float* in, Activations& a, int64_t y0, int64_t y1) const {
  const int64_t c = g.in_c, hw = g.in_h * g.in_w, wp = padded_width();
  uint8_t* origin = a.padded.data() + (plane_origin() + y0 * wp) * c;
  if (codes_in)
    copy_rows->fn(reinterpret_cast<const uint8_t*>(in) + y0 * g.in_w * c, y1 - y0, g.in_w * c, g.in_w * c, origin,
                  wp * c);
  else if (c == 1)
    quantize->fn(in + y0 * g.in_w, y1 - y0, g.in_w, g.in_w, act, add, origin, wp);
  else
    quantize_nhwc->fn(in + y0 * g.in_w, c, y1 - y0, g.in_w, hw, act, add, origin, c, wp * c);
}

// Rows [m0, m1) of the [M][K'] activation bytes from the padded image: per kernel row one
// run of kernel_w * C bytes. Runs of at most 16 bytes go as one fixed 16-byte copy (a LeNet
// first layer's 3-byte runs cost a library call each): the bytes it writes past the run are
// overwritten by the next run, by the zeroed tail or, for a row of 16 columns, by the next
// row of the range (the range's last row copies exactly: the next row is another task's).
void IntLayer::Impl::rows_from_padded(const Activations& a, int64_t m0, int64_t m1, uint8_t* out,
                                      int32_t* xsum) const {
  const int64_t kp = layout.padded_cols(), c = g.in_c, run = g.kernel_w * c;
  const int64_t wp = padded_width(), reach = (g.kernel_h - 1) * run + 16;
  const bool short_runs = run <= 16 && reach <= 2 * kp;
  const int64_t tail = kp - layout.cols;
  // Output row and column counted, not divided per row; a tail of at most 16 bytes zeroed by
  // one fixed 16-byte store, whose bytes past the row the next row's runs and tail rewrite
  // (kp >= 16; not the range's last row). The division and the library memset of a 7-byte
  // tail per row were half of this copy on the Fashion VGG's first layer (1 -> 16 channels).
  int64_t oh = m0 / g.out_w, ow = m0 % g.out_w;
  for (int64_t m = m0; m < m1; ++m) {
    uint8_t* row = out + (m - m0) * kp;
    const int64_t top = oh * g.stride_h * wp + ow * g.stride_w;
    if (++ow == g.out_w) ow = 0, ++oh;
    const uint8_t* src = a.padded.data() + top * c;
    const bool last = m + 1 == m1;
    if (short_runs && (reach <= kp || !last)) {
      for (int64_t kh = 0; kh < g.kernel_h; ++kh) std::memcpy(row + kh * run, src + kh * wp * c, 16);
    } else {
      for (int64_t kh = 0; kh < g.kernel_h; ++kh) std::memcpy(row + kh * run, src + kh * wp * c, run);
    }
    if (tail <= 16 && !last)
      std::memset(row + layout.cols, 0, 16);
    else
      std::memset(row + layout.cols, 0, tail);
    if (xcoef) {
      int32_t sum = 0;
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw) sum += a.csum[top + kh * wp + kw];
      xsum[m - m0] = sum;
    }
  }
}

// Rows [m0, m1) of the [M][K'] activation bytes of conv group `grp` (m = image * OH * OW +
// pixel), with the per-group byte sums the ternary correction needs.
void IntLayer::Impl::build_rows(const Activations& a, int64_t grp, int64_t m0, int64_t m1,
                                uint8_t* out, int32_t* xsum) const {
  const int64_t kp = layout.padded_cols(), c = g.in_c;
  const uint8_t pad = static_cast<uint8_t>(add);  // the byte of code 0
  for (int64_t m = m0; m < m1; ++m) {
    uint8_t* row = out + (m - m0) * kp;
    const int64_t img = m / pixels, oh = (m % pixels) / g.out_w, ow = m % g.out_w;
    const uint8_t* base = a.image.data() + img * g.in_h * g.in_w * c + grp * cg;
    if (!layout.identity()) std::memset(row, 0, kp);
    for (int64_t kh = 0; kh < g.kernel_h; ++kh) {
      // A kernel row inside the image is one run of kernel_w * C bytes in NHWC (when the
      // group spans every channel): one copy instead of kernel_w (small C is common).
      const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
      const int64_t iw0 = ow * g.stride_w - g.pad_left;
      if (layout.identity() && cg == c && g.dilation_w == 1 && ih >= 0 && ih < g.in_h && iw0 >= 0 &&
          iw0 + g.kernel_w <= g.in_w) {
        std::memcpy(row + kh * g.kernel_w * cg, base + (ih * g.in_w + iw0) * c, g.kernel_w * cg);
        continue;
      }
      for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
        const int64_t iw = iw0 + kw * g.dilation_w;
        const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
        const uint8_t* src = base + (ih * g.in_w + iw) * c;
        const int64_t k0 = (kh * g.kernel_w + kw) * cg;
        if (layout.identity()) {
          if (inside)
            std::memcpy(row + k0, src, cg);
          else
            std::memset(row + k0, pad, cg);
        } else {
          for (int64_t ch = 0; ch < cg; ++ch) row[layout.map(k0 + ch)] = inside ? src[ch] : pad;
        }
      }
    }
    if (layout.identity()) std::memset(row + layout.cols, 0, kp - layout.cols);
    if (xcoef && layout.groups == 1) {
      // The row is the window's pixels: sum their channel sums instead of K bytes.
      int32_t sum = 0;
      for (int64_t kh = 0; kh < g.kernel_h; ++kh)
        for (int64_t kw = 0; kw < g.kernel_w; ++kw) {
          const int64_t ih = oh * g.stride_h - g.pad_top + kh * g.dilation_h;
          const int64_t iw = ow * g.stride_w - g.pad_left + kw * g.dilation_w;
          const bool inside = ih >= 0 && ih < g.in_h && iw >= 0 && iw < g.in_w;
          sum += inside ? a.csum[(img * g.in_h + ih) * g.in_w + iw] : int32_t(int8_t(pad)) * int32_t(cg);
        }
      xsum[m - m0] = sum;
    } else if (xcoef) {
      const int8_t* s = reinterpret_cast<const int8_t*>(row);
      for (int64_t gi = 0; gi < layout.groups; ++gi) {
        int32_t sum = 0;
        for (int64_t j = 0; j < layout.padded_group; ++j) sum += s[gi * layout.padded_group + j];
        xsum[(m - m0) * layout.groups + gi] = sum;
      }
    }
  }
}

// The byte tiles of the sparse GEMM for conv group `grp`; returns their count. Stride-1
// convolutions need no im2col: the channel planes are stored zero-padded, output pixels are
// numbered over the padded width (the extra columns are computed and dropped), and column
// (kh, kw, c) of a tile is the window of plane c shifted by kh * dilation rows and
// kw * dilation columns; strided ones the same over each plane's phases (phases()). Linear
// layers over a batch copy k-major tiles.
int64_t IntLayer::Impl::sparse_tiles(
    Activations& a, const float* in, int64_t grp, int64_t m,
    const std::function<void(size_t, const std::function<void(size_t)>&)>& parallel) const {
  const int64_t kp = layout.padded_cols();
  if (linear) {
    const int64_t ntiles = ceil_div(m, kSparseTile);
    a.tile_stride = kp * kSparseTile;
    a.tiles.resize(ntiles * a.tile_stride);
    a.runs.clear(), a.tile_runs.clear();
    for (int64_t t = 0; t < ntiles; ++t) {
      a.tile_runs.push_back(a.runs.size());
      a.runs.push_back({0, int32_t(t * kSparseTile), int32_t(std::min<int64_t>(kSparseTile, m - t * kSparseTile))});
    }
    a.tile_runs.push_back(a.runs.size());
    // The batch rows' floats quantized straight into the k-major tiles by the transposing
    // quantizer, in tasks of kLinearTileColumns columns (one tile is most batches: a task per
    // tile left the second thread idle). The copy of a quantized [batch][K] image one byte and
    // one column-map division at a time took 0.26 ms for 64 rows of 1568 features, 75% of
    // that layer (Fashion VGG's layer4, 95% sparse) against 7 us of GEMM. Padding columns
    // have no entries and lanes past the batch are dropped: neither is written.
    constexpr int64_t kLinearTileColumns = 256;
    const int64_t chunks = ceil_div(layout.cols, kLinearTileColumns);
    parallel(ntiles * chunks, [&](size_t i) {
      const int64_t t = int64_t(i) / chunks, k1 = std::min(layout.cols, (int64_t(i) % chunks + 1) * kLinearTileColumns);
      const int64_t first = t * kSparseTile, rows = std::min<int64_t>(kSparseTile, m - first);
      uint8_t* tile = a.tiles.data() + t * a.tile_stride;
      for (int64_t k = (int64_t(i) % chunks) * kLinearTileColumns, end; k < k1; k = end) {
        end = std::min(k1, (k / layout.group + 1) * layout.group);  // within k's scale group
        quantize_nhwc->fn(in + first * layout.cols + k, size_t(rows), 1, size_t(end - k), size_t(layout.cols), act, add,
                          tile + layout.map(k) * kSparseTile, kSparseTile, size_t(end - k) * kSparseTile);
      }
    });
    a.tile_bytes = a.tiles.data();
    return ntiles;
  }
  const int64_t wp = plane_width(), padded = padded_plane_bytes(), plane = plane_bytes();
  const int64_t ntiles = implicit_tile_count();
  a.tile_stride = kSparseTile;
  // The runs depend on the geometry only: made once.
  if (a.tile_runs.empty()) {
    // Lane v of tile t is virtual pixel 64 t + v = oh * wp + ow; columns ow >= out_w drop.
    // Packed, lane 64 + v is the pixel half_rows rows below.
    for (int64_t t = 0; t < ntiles; ++t) {
      a.tile_runs.push_back(a.runs.size());
      for (int64_t half = 0; half < (packed ? 2 : 1); ++half)
        for (int64_t v = t * kSparseTile; v < tile_end(t);) {
          const int64_t oh = v / wp + half * half_rows, ow = v % wp;
          if (oh >= g.out_h) break;
          const int64_t end = std::min<int64_t>(tile_end(t), (v / wp) * wp + g.out_w);
          if (ow < g.out_w)
            a.runs.push_back({int32_t(v - t * kSparseTile + half * kSparseTile), int32_t(oh * g.out_w + ow),
                              int32_t(end - v)});
          v = (v / wp + 1) * wp;
        }
    }
    a.tile_runs.push_back(a.runs.size());
  }
  // The padded planes: the input itself (planes_in), or made here. Padding holds the byte of
  // code 0, set once, when the buffer is made, and never overwritten: the input is quantized
  // (or its codes copied) straight into the planes. Slack past the last plane: the windows of
  // the last tiles read beyond it (into dropped lanes).
  const auto* input = reinterpret_cast<const uint8_t*>(in);
  if (planes_in && !packed) {  // the writer made the planes (planes_format)
    a.tile_bytes = input + grp * cg * padded;
    return ntiles;
  }
  const auto reserve = [&](aligned_vector<uint8_t>& buf, size_t bytes) {
    if (buf.size() != bytes) buf.assign(bytes, static_cast<uint8_t>(add));
  };
  if (!planes_in) reserve(a.tiles, size_t(planes_buffer_bytes(cg * phases(), padded)));
  if (packed) reserve(a.packed, size_t(planes_buffer_bytes(cg, plane)));
  if (phases() > 1) {
    // Each channel quantized into a padded plane of whole phase rows and columns (pitch
    // sw * pw), then dealt out to its phases, padding included.
    const int64_t sh = g.stride_h, sw = g.stride_w, ph = plane_height(), pitch = sw * wp;
    const int64_t strided_plane = sh * ph * pitch;
    reserve(a.strided, size_t(cg * strided_plane));
    parallel(cg, [&](size_t ch) {
      uint8_t* padded_plane = a.strided.data() + ch * strided_plane;
      quantize->fn(in + (grp * cg + int64_t(ch)) * g.in_h * g.in_w, g.in_h, g.in_w, g.in_w, act, add,
                   padded_plane + g.pad_top * pitch + g.pad_left, pitch);
      deal_phases->fn(padded_plane, size_t(sh), size_t(sw), size_t(ph), size_t(wp), size_t(padded),
                      a.tiles.data() + int64_t(ch) * phases() * padded);
    });
    a.tile_bytes = a.tiles.data();
    return ntiles;
  }
  parallel(cg, [&](size_t ch) {
    const uint8_t* src;
    if (planes_in) {
      src = input + (grp * cg + ch) * padded;
    } else {
      uint8_t* dst = a.tiles.data() + ch * padded;
      const int64_t at = (grp * cg + ch) * g.in_h * g.in_w;
      if (codes_in)
        copy_rows->fn(input + at, g.in_h, g.in_w, g.in_w, dst + plane_origin(), wp);
      else
        quantize->fn(in + at, g.in_h, g.in_w, g.in_w, act, add, dst + plane_origin(), wp);
      src = dst;
    }
    if (packed) pack_halves(src, a.packed.data() + ch * plane);
  });
  a.tile_bytes = packed ? a.packed.data() : a.tiles.data();
  return ntiles;
}

// acc[i][j] (+)= scale * (raw - xcoef * xsum + wc * wsum) of one scale group, rows m0..
// m0 + mr, out channels n0..n0 + nn of the part's conv group.
void IntLayer::Impl::epilogue(const Part& p, int64_t group, int32_t wc, const int32_t* raw,
                              size_t ldr, const int32_t* xsum, int64_t m0, int64_t mr,
                              int64_t n0, int64_t nn, bool first, float* acc) const {
  const int64_t ng = layout.groups;
  const int32_t xc = xcoef;
  for (int64_t i = 0; i < mr; ++i) {
    const int32_t xs = xc ? xc * xsum[(m0 + i) * ng + group] : 0;
    const int32_t* r = raw + i * ldr;
    float* a = acc + i * nn;
    for (int64_t j = 0; j < nn; ++j) {
      const int64_t n = n0 + j;
      const float f = static_cast<float>(r[j] + wc * p.wsum[n * ng + group] - xs) * p.scale[n * ng + group];
      a[j] = first ? f : a[j] + f;
    }
  }
}

// The one-part, one-group case of epilogue + store: from the integer tile straight to the
// output, in the same float operations (so the same results), by the epilogue kernel.
void IntLayer::Impl::finish(const Part& p, int32_t wc, const int32_t* raw, size_t ldr,
                            const int32_t* xsum, int64_t m0, int64_t mr, int64_t grp, int64_t n0,
                            int64_t nn, float* out, int64_t ldm, int64_t ldn, const uint32_t* rows) const {
  const EpilogueArgs e{p.wsum.data() + n0, wc, xcoef ? xsum + m0 : nullptr, p.scale.data() + n0,
                       bias.data() + grp * og + n0, relu ? 0.0f : -INFINITY, rows};
  if (!codes_out) {
    epilogue_kernel->fn(raw, ldr, mr, nn, e, out + m0 * ldm + (grp * og + n0) * ldn, ldm, ldn);
    return;
  }
  if (codes_out->layout == CodeLayout::nhwc) {
    // A pixel's channels are a row of raw: codes straight from it, where floats into channel
    // planes and the NHWC quantizer would transpose twice (the 256 x 14 x 14 output, AVX-512:
    // 10.0 us against 9.4 + 6.9).
    epilogue_codes->fn(raw, ldr, mr, nn, e, codes_out->act, codes_out->add,
                       reinterpret_cast<uint8_t*>(out) + m0 * g.out_c + grp * og + n0, size_t(g.out_c));
    return;
  }
  thread_local std::vector<float> planes;
  planes.resize(size_t(mr * nn));
  epilogue_kernel->fn(raw, ldr, mr, nn, e, planes.data(), 1, mr);
  requantize(planes.data(), grp, m0, mr, n0, nn, out, ldn);
}

// Requantized output: the float epilogue's tile of channel planes (nn channels of mr
// consecutive pixels from m0) through the reader's quantizer into its bytes, so the codes are
// those the reader would have made from the floats (the round trip's bits, by construction).
// The bytes of a convolution's output: NCHW planes ldn bytes apart, or NHWC.
void IntLayer::Impl::requantize(const float* planes, int64_t grp, int64_t m0, int64_t mr, int64_t n0, int64_t nn,
                                float* out, int64_t ldn) const {
  uint8_t* bytes = reinterpret_cast<uint8_t*>(out);
  if (codes_out->layout == CodeLayout::nchw)
    quantize->fn(planes, size_t(nn), size_t(mr), size_t(mr), codes_out->act, codes_out->add,
                 bytes + (grp * og + n0) * ldn + m0, size_t(ldn));
  else
    quantize_nhwc->fn(planes, size_t(nn), 1, size_t(mr), size_t(mr), codes_out->act, codes_out->add,
                      bytes + m0 * g.out_c + grp * og + n0, size_t(g.out_c), size_t(mr * g.out_c));
}

// Requantized output straight into the reader's planes (CodeFormat planes): the tile's lanes
// are virtual pixels 64 tile + lane, bytes origin + 64 tile + lane of each channel's plane.
// The floats of the runs go through the reader's quantizer as requantize's do; the lanes
// between runs (the columns ow >= out_w) are the reader's padding, written as quantized
// zeros, and a whole tile is written but for the last, after whose last run the rest of the
// plane up to the next one's first code (bottom and top padding, slack) takes the padding
// byte: the planes are whole, whatever the buffer held.
void IntLayer::Impl::write_planes(const int32_t* raw, size_t ldr, const EpilogueArgs& e, std::vector<Run>& runs, int64_t tile,
                                  bool last_tile, size_t lanes, int64_t n0, int64_t nn, float* out) const {
  const CodeFormat& f = *codes_out;
  const size_t width = last_tile ? lanes : kSparseTile;
  thread_local std::vector<float> floats;
  floats.resize(size_t(nn) * width);
  for (Run& r : runs) r.pixel = r.lane;
  runs_epilogue->fn(raw, ldr, size_t(nn), runs.data(), runs.size(), e, floats.data(), 1, width);
  size_t from = 0;
  const auto zero = [&](size_t to) {
    if (to > from)
      for (int64_t j = 0; j < nn; ++j) std::fill_n(floats.data() + j * width + from, to - from, 0.0f);
  };
  for (const Run& r : runs) zero(size_t(r.lane)), from = size_t(r.lane + r.length);
  zero(width);
  uint8_t* planes = reinterpret_cast<uint8_t*>(out) + n0 * f.plane_stride;
  quantize->fn(floats.data(), size_t(nn), width, width, f.act, f.add, planes + f.origin + tile * kSparseTile,
               size_t(f.plane_stride));
  if (!last_tile) return;
  const int64_t end = f.origin + tile * int64_t(kSparseTile) + int64_t(lanes);
  copy_rows->fn(pad_bytes.data(), size_t(nn), size_t(f.plane_stride + f.origin - end), 0, planes + end,
                size_t(f.plane_stride));
  if (n0 == 0) copy_rows->fn(pad_bytes.data(), 1, size_t(f.origin), 0, planes, 0);
}

void IntLayer::Impl::store(const float* acc, int64_t grp, int64_t m0, int64_t mr, int64_t n0,
                           int64_t nn, float* out, int64_t ldm, int64_t ldn) const {
  const float floor = relu ? 0.0f : -INFINITY;
  for (int64_t j = 0; j < nn; ++j) {
    const int64_t n = grp * og + n0 + j;
    const float b = bias[n];
    float* dst = out + m0 * ldm + n * ldn;
    for (int64_t i = 0; i < mr; ++i) dst[i * ldm] = std::max(acc[i * nn + j] + b, floor);
  }
}

// One call: `images` images (conv: 1; linear: the batch as M rows) into `out`.
void IntLayer::Impl::compute(const float* in, int64_t images, float* out, ThreadPool* pool,
                             Activations& a, int thread_base) {
  const int64_t m = images * pixels, kp = layout.padded_cols(), ng = layout.groups;
  // Conv output is NCHW per image: out[n * M + m]; linear: out[m * O + n].
  const int64_t ldm = linear ? g.out_c : 1, ldn = linear ? 1 : m;
  const int threads = pool ? pool->size() : 1;
  const int slots = pool ? pool->slot_base() + threads : thread_base + 1;  // per-thread buffers used
  // fixed: the same thread runs the same items on every call (ThreadPool::parallel_static).
  // fn's thread: the layer's per-thread slot (ThreadPool::slot_base).
  const auto parallel = [&](size_t n, const std::function<void(size_t, int)>& fn, bool fixed = false) {
    if (!pool) {
      for (size_t i = 0; i < n; ++i) fn(i, thread_base);
      return;
    }
    const int base = pool->slot_base();
    const auto slotted = [&](size_t i, int t) { fn(i, base + t); };
    if (fixed)
      pool->parallel_static(n, slotted);
    else
      pool->parallel_for(n, slotted);
  };
  if (implicit_dense()) {
    // On several threads each quantizes its own copy of the padded image: tile loads of lines
    // another core has just written ran the tile GEMM ~1.4x slower (standalone, 2 threads over
    // 8 of the 256->256 layer's 16 panels each: 40 us when the image stayed put, 56 when one
    // thread rewrote it before every run, 54 with a copy per thread written by its thread).
    const bool own_images = threads > 1;
    std::vector<char> built(own_images ? slots : 0, 0);
    if (!own_images) padded_image(in, a);
    // Rows are the output pixels in tiles of h, tile t's first at pixel t p of the padded width
    // (conv_row_tiles): p = h = 16 numbers the padded width's every pixel, p > h gives one
    // output row per tile, only its real pixels. Calls of up to kConvTiles tiles.
    const int64_t wp = padded_width(), h = conv_tile_rows, p = conv_tile_pitch, c = g.in_c;
    const bool virtual_pixels = p == h;
    const int64_t mv = virtual_pixels ? g.out_h * wp : pixels, mr = int64_t(kConvTiles) * h;
    const int64_t bpg = layout.padded_group / kKBlock;
    // About one task per thread (output channels split first, then pixel rows), each a run of tile
    // GEMM calls into its whole block of sums, then the epilogue over the block: the tile
    // unit slows down after running other code (measured: 0.6 us lost per switch after 0.5 us
    // of scalar work, 2.3 us after 5 us), so alternating tile GEMMs with epilogues of 32 rows
    // cost the 3x3 256->256 layer ~15%, and calls over 4 panels instead of 16 another ~10%.
    const int64_t n_chunks = weight_chunks(threads);
    const int64_t mt = ceil_div(mv, mr), m_chunks = std::min(mt, ceil_div(threads, n_chunks));
    parallel(n_chunks * m_chunks, [&](size_t task, int t) {
      Activations& img = own_images ? acts[t] : a;
      if (own_images && !built[t]) padded_image(in, img), built[t] = 1;
      const int64_t nc = task % n_chunks, mc = task / n_chunks;
      const int64_t p0 = panels * nc / n_chunks, p1 = panels * (nc + 1) / n_chunks;
      const int64_t r0 = mt * mc / m_chunks * mr, r1 = std::min(mv, mt * (mc + 1) / m_chunks * mr);
      const int64_t n0 = p0 * kPanel, nn = std::min(og, p1 * int64_t(kPanel)) - n0;
      const size_t ldr = (p1 - p0) * kPanel;
      // Bursts of at most kBurstBytes of sums (measured on the Xeon, 1 thread: 8 KiB bursts cost
      // the 3x3 64->64 layer at 56x56 1.2x and 512 KiB 1.05x; the 256->256 layer at 14x14 runs
      // the same from 32 KiB up).
      constexpr int64_t kBurstBytes = 128 << 10;
      const int64_t burst = std::max<int64_t>(1, kBurstBytes / int64_t(ldr * sizeof(int32_t)) / mr) * mr;
      Tile& tile = tiles[t];
      tile.raw.resize(std::min(burst, r1 - r0) * ldr);
      for (int64_t b0 = r0; b0 < r1; b0 += burst) {
        const int64_t b1 = std::min(r1, b0 + burst);
        for (int64_t i0 = b0; i0 < b1; i0 += mr)
          conv->fn(std::min(mr, b1 - i0), bpg, img.padded.data() + i0 / h * p * c, c, h, p, koff.data(),
                   parts[0][0].dense.data() + p0 * stride, stride, p1 - p0, tile.raw.data() + (i0 - b0) * ldr, ldr);
        if (!virtual_pixels) {
          finish(parts[0][0], wcoef, tile.raw.data(), ldr, nullptr, b0, b1 - b0, 0, n0, nn, out, ldm, ldn);
          continue;
        }
        // One epilogue call over the output pixels whose padded pixel is in the burst: 16
        // consecutive pixels of a plane per store, where calls per output row (14 pixels)
        // left 2 of each 16 lanes empty and split the stores.
        const auto pixels_before = [&](int64_t v) { return v / wp * g.out_w + std::min(v % wp, g.out_w); };
        const int64_t q0 = pixels_before(b0), q1 = pixels_before(b1);
        // Each output row's real pixels as one run of consecutive rows (a test per pixel was 6%
        // of the Fashion VGG at batch 1 on AMX, its 28x28 layer's 840 virtual pixels per call).
        tile.rows.resize(q1 - q0);
        uint32_t* row = tile.rows.data();
        for (int64_t v = b0; v < b1; v += wp - v % wp)
          for (int64_t u = v, end = std::min(b1, v - v % wp + g.out_w); u < end; ++u) *row++ = uint32_t(u - b0);
        finish(parts[0][0], wcoef, tile.raw.data(), ldr, nullptr, q0, q1 - q0, 0, n0, nn, out, ldm, ldn,
               tile.rows.data());
      }
    }, true);
    return;
  }
  // Tasks of the dense GEMMs: chunks of panels x chunks of rows (multiples of `mr`), about 4
  // per thread. Output channels in one chunk per thread (each call covers its chunk's panels:
  // fewer, longer calls keep the tile unit busy; 4 panels per call instead of 16 cost the 3x3
  // 256->256 layer ~10% at 1 thread), or more where the weights fill L2 (weight_chunks), of at
  // least four panels (the 6 x 64 kernel's whole tile; 2 threads, Ice Lake: 3x3 64->64 at
  // 56x56 276 -> 241 us against chunks of two panels); pixel row tiles in about 4 tasks per
  // thread. Channel chunk major, in fixed blocks: each thread keeps one chunk's weights in
  // its L2 call after call (3x3 256->256 at 14x14, 2 threads, Ice Lake: 222 -> 207 us).
  const auto dense_tasks = [&](int64_t mr, const std::function<void(int64_t, int64_t, int64_t, int64_t, int)>& fn) {
    const int64_t n_chunks = std::max<int64_t>(1, std::min<int64_t>(int64_t(panels) / 4, weight_chunks(threads)));
    const int64_t mt = ceil_div(m, mr), m_chunks = std::min(mt, ceil_div(4 * threads, n_chunks));
    parallel(n_chunks * m_chunks, [&](size_t task, int t) {
      const int64_t nc = task / m_chunks, mc = task % m_chunks;
      const int64_t p0 = panels * nc / n_chunks, p1 = panels * (nc + 1) / n_chunks;
      const int64_t r0 = mt * mc / m_chunks * mr, r1 = std::min(m, mt * (mc + 1) / m_chunks * mr);
      fn(r0, r1, p0, p1, t);
    }, true);
  };
  if (indirect_dense()) {
    // The image made by all threads, a band of input rows each (ternary corrections need no
    // channel sums here: int8 weights). 3x3 64->64 at 28x28, 2 threads, Ice Lake: min 61.5 ->
    // 59.7 us, 256->256 at 14x14 181 -> 178 (the caller alone spent 5-10 us quantizing).
    reserve_padded(a);
    const int64_t bands = std::min<int64_t>(threads, g.in_h);
    parallel(bands, [&](size_t b, int) { padded_image_rows(in, a, g.in_h * b / bands, g.in_h * (b + 1) / bands); });
    // Rows in multiples of 12: whole tiles of the 4- and 6-row kernels.
    dense_tasks(12, [&](int64_t r0, int64_t r1, int64_t p0, int64_t p1, int t) {
      const int64_t n0 = p0 * kPanel, nn = std::min(og, p1 * int64_t(kPanel)) - n0;
      const size_t ldr = (p1 - p0) * kPanel;
      Tile& tile = tiles[t];
      tile.raw.resize((r1 - r0) * ldr);
      igemm->fn(r1 - r0, layout.padded_group / kKBlock, a.padded.data(), window.data() + r0, koff.data(),
                parts[0][0].dense.data() + p0 * stride, stride, p1 - p0, tile.raw.data(), ldr);
      finish(parts[0][0], wcoef, tile.raw.data(), ldr, nullptr, r0, r1 - r0, 0, n0, nn, out, ldm, ldn);
    });
    return;
  }
  if (padded_rows())
    padded_image(in, a);
  else if (gemm_dense() || sparse_gemv(m))  // the sparse GEMM's tiles: sparse_tiles
    quantize_image(in, images, a);

  for (int64_t grp = 0; grp < g.groups; ++grp) {
    const std::vector<Part>& ps = parts[grp];
    const int64_t nparts = ps.size();
    if (gemm_dense() || sparse_gemv(m)) {
      a.rows.resize(m * kp + 64);
      a.xsum.resize(m * ng);
      if (xcoef && ng == 1 && !padded_rows())
        channel_sums(a.image.data() + grp * cg, images * g.in_h * g.in_w, g.in_c, cg, a.csum);
    }
    // Rows [r0, r1) against panels [p0, p1) of a one-part, one-scale-group layer, then one
    // epilogue over all those rows: 16-pixel stores where per-tile calls had 6 or 8 rows (the
    // per-tile epilogues were a tenth of the 3x3 256->256 layer at 2 threads).
    const auto dense_task = [&](const DenseKernel& kern, Tile& tile, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
      const int64_t mr = kern.mr, n0 = p0 * kPanel, nn = std::min(og, p1 * int64_t(kPanel)) - n0;
      const size_t ldr = (p1 - p0) * kPanel;
      tile.raw.resize((r1 - r0) * ldr);
      for (int64_t i0 = r0; i0 < r1; i0 += mr)
        kern.fn(std::min(mr, r1 - i0), layout.padded_group / kKBlock, a.rows.data() + i0 * kp, kp,
                ps[0].dense.data() + p0 * stride, stride, p1 - p0, tile.raw.data() + (i0 - r0) * ldr, ldr);
      finish(ps[0], wcoef, tile.raw.data(), ldr, a.xsum.data(), r0, r1 - r0, grp, n0, nn, out, ldm, ldn);
    };
    // Rows from the padded image are built by the task that multiplies them (pixel tiles
    // against every panel): no wait between building and multiplying, and no rows written by
    // one core and read by the other. On Zen 4 at 2 threads: 3x3 64->64 at 56x56 445 -> 388 us,
    // 128->128 at 28x28 351 -> 320, 256->256 at 14x14 301 -> 292. Only while all the weights
    // stay in L2, as each task reads them all (padded_rows() implies one conv group).
    constexpr int64_t kFusedWeightBytes = 512 << 10;
    if (dense() && padded_rows() && nparts == 1 && ng == 1 && int64_t(panels * stride) <= kFusedWeightBytes) {
      const DenseKernel& kern = dense_kernel(m);
      const int64_t mr = kern.mr, mt = ceil_div(m, mr), tasks = std::min<int64_t>(mt, 4 * threads);
      parallel(tasks, [&](size_t task, int t) {
        const int64_t r0 = mt * int64_t(task) / tasks * mr, r1 = std::min(m, mt * int64_t(task + 1) / tasks * mr);
        rows_from_padded(a, r0, r1, a.rows.data() + r0 * kp, a.xsum.data() + r0);
        dense_task(kern, tiles[t], r0, r1, 0, int64_t(panels));
      });
      continue;
    }
    if (gemm_dense() || sparse_gemv(m)) {
      const int64_t row_tasks = std::min<int64_t>(m, 4 * threads);
      parallel(row_tasks, [&](size_t t, int) {
        const int64_t m0 = m * t / row_tasks, m1 = m * (t + 1) / row_tasks;
        if (padded_rows())
          rows_from_padded(a, m0, m1, a.rows.data() + m0 * kp, a.xsum.data() + m0 * ng);
        else
          build_rows(a, grp, m0, m1, a.rows.data() + m0 * kp, a.xsum.data() + m0 * ng);
      });
    }
    if (gemm_dense()) {
      const DenseKernel& kern = dense_kernel(m);
      const int64_t mr = kern.mr, bpg = layout.padded_group / kKBlock;
      dense_tasks(mr, [&](int64_t r0, int64_t r1, int64_t p0, int64_t p1, int t) {
        if (nparts == 1 && ng == 1) return dense_task(kern, tiles[t], r0, r1, p0, p1);
        const int64_t n0 = p0 * kPanel, nn = std::min(og, p1 * int64_t(kPanel)) - n0;
        const size_t ldr = (p1 - p0) * kPanel;
        Tile& tile = tiles[t];
        tile.raw.resize(mr * ldr);
        tile.acc.resize(mr * ldr);
        for (int64_t i0 = r0; i0 < r1; i0 += mr) {
          const int64_t rows = std::min(mr, r1 - i0);
          for (int64_t part = 0; part < nparts; ++part)
            for (int64_t gi = 0; gi < ng; ++gi) {
              kern.fn(rows, bpg, a.rows.data() + i0 * kp + gi * layout.padded_group, kp,
                      ps[part].dense.data() + p0 * stride + gi * bpg * (stride / (kp / kKBlock)),
                      stride, p1 - p0, tile.raw.data(), ldr);
              epilogue(ps[part], gi, wcoef, tile.raw.data(), ldr, a.xsum.data(), i0, rows, n0,
                       nn, part == 0 && gi == 0, tile.acc.data());
            }
          store(tile.acc.data(), grp, i0, rows, n0, nn, out, ldm, ldn);
        }
      });
    } else if (sparse_gemv(m)) {
      // Tasks of whole row bands; the kernel returns one sum per (row, scale group).
      const int64_t band = ps[0].bands.band, bands = ps[0].bands.bands();
      const int64_t chunks = std::min<int64_t>(bands, 8 * threads);
      parallel(chunks, [&](size_t task, int t) {
        const int64_t q0 = bands * task / chunks, q1 = bands * (task + 1) / chunks;
        const int64_t r0 = q0 * band, r1 = std::min(og, q1 * band), nn = r1 - r0;
        Tile& tile = tiles[t];
        tile.raw.resize((q1 - q0) * band * ng);
        tile.acc.resize(nn);
        if (nparts == 1 && ng == 1) {
          sgemv->fn(a.rows.data(), ps[0].bands, q0, q1, tile.raw.data());
          finish(ps[0], wcoef, tile.raw.data(), nn, nullptr, 0, 1, grp, r0, nn, out, ldm, ldn);
          return;
        }
        for (int64_t part = 0; part < nparts; ++part) {
          sgemv->fn(a.rows.data(), ps[part].bands, q0, q1, tile.raw.data());
          for (int64_t r = r0; r < r1; ++r)
            for (int64_t gi = 0; gi < ng; ++gi)
              epilogue(ps[part], gi, wcoef, tile.raw.data() + (r - r0) * ng + gi, 1, nullptr, 0, 1, r, 1,
                       part == 0 && gi == 0, tile.acc.data() + (r - r0));
        }
        for (int64_t r = r0; r < r1; ++r) store(tile.acc.data() + (r - r0), grp, 0, 1, r, 1, out, ldm, ldn);
      });
    } else {
      // On several threads each copies or quantizes every plane into its own buffer before its
      // first task (the 256-channel layer's planes: 3.7 us of copies): no meeting between
      // building and walking, and no plane lines fetched from the other core's cache. 3x3
      // 256->256 at 14x14, 2 threads: codes in, Ice Lake, 98% sparse 39.7 -> 34.7 us, 90% 107
      // -> 101 (medians of 8 and 6 alternating runs); floats in, Sapphire Rapids (3 alternating
      // rounds, medians), 98% 48-49 -> 38 us, 95% 67-70 -> 60-64, 90% 104-106 -> 96-99 (on Ice
      // Lake, session 14, even against one set of planes quantized in fixed blocks). Strided
      // layers' phase planes stay shared, and planes in place too, unless each thread packs them.
      const bool own_planes = implicit_tiles() && (!planes_in || packed) && threads > 1;
      std::vector<char> built(own_planes ? slots : 0, 0);
      const auto serial = [](size_t n, const std::function<void(size_t)>& fn) {
        for (size_t i = 0; i < n; ++i) fn(i);
      };
      const int64_t ntiles = own_planes ? implicit_tile_count()
                                        : sparse_tiles(a, in, grp, m, [&](size_t n, const std::function<void(size_t)>& fn) {
                                            parallel(n, [&](size_t i, int) { fn(i); }, true);
                                          });
      // One row part per thread, row part major: with fixed blocks each thread walks all tiles
      // of its own rows, keeping their weights and outputs, whatever the tiles cost (a merged
      // last tile ~1.4x a whole one). Ice Lake, 2 threads, 90% sparse, 1 / 2 / 4 / 8 row parts
      // (separate processes, min-median): 256->256 at 14x14 139-153 / 91-93 / 93-106 / 103-110
      // us (4 was this rule's predecessor for its 3 tiles; 1 splits tiles, not rows, between
      // the cores); 512->512 at 7x7 2 / 8 parts 117.7-119.5 / 120.6-120.9 us; 28x28 and 56x56
      // layers the same within noise.
      const int64_t row_parts = std::max<int64_t>(1, std::min<int64_t>(og / 8, threads));
      parallel(ntiles * row_parts, [&](size_t task, int t) {
        const int64_t ti = task % ntiles, rc = task / ntiles;
        Activations& at = own_planes ? acts[t] : a;
        if (own_planes && !built[t]) sparse_tiles(at, in, grp, m, serial), built[t] = 1;
        const int64_t r0 = og * rc / row_parts, r1 = og * (rc + 1) / row_parts, nn = r1 - r0;
        Tile& tile = tiles[t];
        // Lanes up to the end of the tile's last output run (the last tile may be short, or up
        // to kSparseTileLanes long; packed, the runs of the second half mirror lanes of the
        // first). A tile of dropped padding columns only (dilation wider than a tile) has no run.
        if (at.tile_runs[ti] == at.tile_runs[ti + 1]) return;
        const size_t run0 = at.tile_runs[ti], nruns = at.tile_runs[ti + 1] - run0;
        size_t lanes = 0;
        for (size_t i = run0; i < run0 + nruns; ++i)
          lanes = std::max(lanes, size_t(packed ? at.runs[i].lane % kSparseTile : at.runs[i].lane) +
                                      size_t(at.runs[i].length));
        // Sums per row: 64, 96 for a merged last tile, 128 packed (the second half's from lane
        // 64). A stride of 96 for every tile took back most of the merged tile's gain on the
        // 90% 256->256 layer at 14x14, 1 thread: its 128-row tasks' sums then fill 48 KiB, the
        // whole L1, against 32.
        const size_t ldr = packed ? 2 * kSparseTile : lanes > kSparseTile ? kSparseTileLanes : kSparseTile;
        tile.raw.resize(nn * ldr);
        const float floor = relu ? 0.0f : -INFINITY;
        if (nparts == 1 && ng == 1) {  // straight from the integer sums
          if (plane_conv)
            plane_conv->fn(at.tile_bytes + ti * at.tile_stride, ps[0].planes, size_t(r0), size_t(r1), lanes, tile.raw.data(), ldr);
          else
            sgemm->fn(at.tile_bytes + ti * at.tile_stride, ps[0].sparse, r0, r1, 0, lanes, tile.raw.data(), ldr);
          const EpilogueArgs e{ps[0].wsum.data() + r0, wcoef, nullptr, ps[0].scale.data() + r0,
                               bias.data() + grp * og + r0, floor, nullptr};
          if (!codes_out) {
            runs_epilogue->fn(tile.raw.data(), ldr, size_t(nn), at.runs.data() + run0, nruns, e,
                              out + (grp * og + r0) * ldn, ldm, ldn);
            return;
          }
          thread_local std::vector<Run> local;
          thread_local std::vector<float> planes;
          local.assign(at.runs.begin() + run0, at.runs.begin() + run0 + nruns);
          if (codes_out->layout == CodeLayout::planes) {
            write_planes(tile.raw.data(), ldr, e, local, ti, ti + 1 == ntiles, lanes, grp * og + r0, nn, out);
            return;
          }
          // The tile's runs are consecutive output pixels, [p0, p0 + width) (packed: such a
          // range per half): their floats into channel planes of that width, then requantized.
          for (size_t first = 0, next; first < nruns; first = next) {
            next = first + 1;
            while (next < nruns && local[next].pixel == local[next - 1].pixel + local[next - 1].length) ++next;
            const int32_t p0 = local[first].pixel, width = local[next - 1].pixel + local[next - 1].length - p0;
            for (size_t i = first; i < next; ++i) local[i].pixel -= p0;
            planes.resize(size_t(nn * width));
            runs_epilogue->fn(tile.raw.data(), ldr, size_t(nn), local.data() + first, next - first, e, planes.data(),
                              1, size_t(width));
            requantize(planes.data(), grp, p0, width, r0, nn, out, ldn);
          }
          return;
        }
        tile.acc.resize(nn * ldr);
        for (int64_t part = 0; part < nparts; ++part)
          for (int64_t gi = 0; gi < ng; ++gi) {
            sgemm->fn(at.tile_bytes + ti * at.tile_stride, ps[part].sparse, r0, r1, gi, lanes, tile.raw.data(), ldr);
            // raw is [row][lane]; the bytes are q + add: correct by add * sum(w).
            const bool first = part == 0 && gi == 0;
            for (int64_t r = 0; r < nn; ++r) {
              const float scale = ps[part].scale[(r0 + r) * ng + gi];
              const int32_t corr = wcoef * ps[part].wsum[(r0 + r) * ng + gi];
              const int32_t* raw = tile.raw.data() + r * ldr;
              float* acc = tile.acc.data() + r * ldr;
              for (size_t i = 0; i < ldr; ++i) {
                const float f = static_cast<float>(raw[i] + corr) * scale;
                acc[i] = first ? f : acc[i] + f;
              }
            }
          }
        for (int64_t r = 0; r < nn; ++r) {
          const int64_t n = grp * og + r0 + r;
          const float b = bias[n];
          float* dst = out + n * ldn;
          const float* acc = tile.acc.data() + r * ldr;
          for (size_t ri = run0; ri < run0 + nruns; ++ri) {
            const Run& run = at.runs[ri];
            float* d = dst + int64_t(run.pixel) * ldm;
            for (int32_t j = 0; j < run.length; ++j) d[j * ldm] = std::max(acc[run.lane + j] + b, floor);
          }
        }
      }, true);
    }
  }
}

void IntLayer::run(const float* in, float* out, int64_t batch, ThreadPool& pool) {
  Impl& L = *impl_;
  const int threads = pool.size(), base = pool.slot_base();
  reserve_slots(base + threads);
  if (L.linear) {
    L.compute(in, batch, out, L.linear_split(batch) ? &pool : nullptr, L.acts[base], base);
    return;
  }
  const int64_t in_image = L.g.in_c * L.g.in_h * L.g.in_w, out_image = L.g.out_c * L.pixels;
  if (batch >= threads && threads > 1) {
    // Whole images per thread, each with its own buffers.
    pool.parallel_for(batch, [&](size_t n, int t) {
      L.compute(in + n * in_image, 1, out + n * out_image, nullptr, L.acts[base + t], base + t);
    });
    return;
  }
  ThreadPool* split = L.image_ns >= L.split_min_ns ? &pool : nullptr;
  for (int64_t n = 0; n < batch; ++n)
    L.compute(in + n * in_image, 1, out + n * out_image, split, L.acts[base], base);
}

// One Activations per thread: a split implicit convolution gives each thread its own image.
void IntLayer::reserve_slots(int slots) {
  if (impl_->tiles.size() < size_t(slots)) impl_->tiles.resize(slots);
  if (impl_->acts.size() < size_t(slots)) impl_->acts.resize(slots);
}

}  // namespace stern::kernels
