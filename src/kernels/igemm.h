// Integer micro-kernels for quantized conv2d / linear: run-time weight layouts, micro-kernel
// signatures and the dispatch table. The float side (activation quantization, epilogue,
// threading) is in kernels/qmatmul.h; docs/KERNELS.md explains the layouts and the bounds.
//
// Every product is raw[m][n] = sum_k A[m][k] * W[n][k] over a padded K' (a multiple of
// 16 per scale group, see qmatmul.h) with int32 accumulation. The weight formats and the
// activation bytes each expects:
//   ternary2 (dense ternary): W = c = w + 1 in {0, 1, 2} at 2 bits, A = int8 bytes;
//     sum_k (c - 1) * a is raw - sum_k a (the row sums come with the activations).
//   int8: W = int8 codes in [-127, 127], A = uint8 bytes (u8s8 as oneDNN).
//   ternary sparse: the column indices of the non-zeros; uint8 activations. GEMM: per row,
//     +1 then -1 indices, 64-pixel columns through an offset table. GEMV: bands of rows,
//     7-bit offsets in 128-column blocks with the sign in the top bit, one activation row.
// Activation bytes are q + offset, offset chosen per format so q fits (qmatmul.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <algorithm>
#include <limits>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <vector>

#include "kernels/with_rows.h"
#include "stern/cpu_features.h"

namespace stern {
struct ActQuant;  // runtime/layer.h
}

namespace stern::kernels {

inline constexpr size_t kKBlock = 16;       // K columns per packed weight block
inline constexpr size_t kPanel = 16;        // output channels per packed panel
inline constexpr size_t kSparseBlock = 128; // columns per sparse block (7-bit offsets)
inline constexpr size_t kSparseTile = 64;   // pixels per sparse GEMM tile
// A convolution's last tile also takes the lanes of a short tile after it (at most half a
// tile), in one walk: a short tile walked alone cost ~0.7 of a whole one (its 32-byte windows
// zero-extended, two ops per entry, one on port 5), and ~0.4 merged. Packed tiles (two halves
// of 64) are never merged.
inline constexpr size_t kSparseTileLanes = kSparseTile + kSparseTile / 2;
// Tiles over `lanes` virtual pixels: 64 each, the last merged with a short rest (unpacked).
inline int64_t sparse_tile_count(int64_t lanes, bool packed) {
  const int64_t tiles = (lanes + int64_t(kSparseTile) - 1) / int64_t(kSparseTile);
  const bool merged = !packed && tiles > 1 && lanes - (tiles - 1) * int64_t(kSparseTile) <= int64_t(kSparseTile / 2);
  return merged ? tiles - 1 : tiles;
}
// The end of tile t's virtual pixels [64 t, end) among `lanes`: 64 (t + 1), or the last one's.
inline int64_t sparse_tile_end(int64_t t, int64_t lanes, bool packed) {
  return t + 1 == sparse_tile_count(lanes, packed) ? lanes : (t + 1) * int64_t(kSparseTile);
}

// Bytes of one packed block (16 channels x 16 columns) of a panel.
inline constexpr size_t kTernary2BlockBytes = kPanel * kKBlock / 4;  // 64
inline constexpr size_t kInt8BlockBytes = kPanel * kKBlock;          // 256

// 64-byte aligned storage for packed weights and activations (kernels use unaligned loads,
// alignment only keeps a 64-byte vector within one cache line).
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    void* p = ::operator new(n * sizeof(T), std::align_val_t(64));
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(64)); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};
template <typename T>
using aligned_vector = std::vector<T, AlignedAllocator<T>>;

// Helpers of the micro-kernels. Four activation bytes as one broadcastable int32.
inline int32_t load4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
// The driver of the AVX-512 dense micro-kernels (int8 and ternary2 alike): rows as a
// compile-time count, panels two at a time (two zmm accumulators per row), then a last single
// panel. `tile` is called as tile.template operator()<MR, NP>(rows, w, c) with `rows` the MR
// activation row pointers (row_at(i): a + i * lda for a GEMM, a pixel's window for an IGEMM),
// `w` the first of NP panels and `c` their first output column.
template <size_t kMaxRows, typename RowAt, typename Tile>
void dense_panel_pairs(size_t m, RowAt&& row_at, const uint8_t* w, size_t panel_stride, size_t npanels,
                       int32_t* c, Tile&& tile) {
  with_rows<kMaxRows>(m, [&]<size_t MR>(std::integral_constant<size_t, MR>) {
    const uint8_t* rows[MR];
    for (size_t i = 0; i < MR; ++i) rows[i] = row_at(i);
    size_t p = 0;
    for (; p + 2 <= npanels; p += 2)
      tile.template operator()<MR, 2>(rows, w + p * panel_stride, c + p * kPanel);
    if (p < npanels) tile.template operator()<MR, 1>(rows, w + p * panel_stride, c + p * kPanel);
  });
}

// Dense micro-kernel: for i < m (m <= the kernel's MR) and j < 16 * npanels,
//   c[i * ldc + j] = sum_{k < 16 * kblocks} A(i, k) * W(j, k),
// A(i, k) = a[i * lda + k]; panel p of W starts at w + p * panel_stride. Layouts:
//   ternary2: 64 bytes per block; byte t holds channel t / 4, and its bit pair q (bits
//     2q, 2q + 1) the code c of column 4q + t % 4.
//   int8: 256 bytes per block, four 64-byte quads; byte t of quad q holds channel t / 4,
//     column 4q + t % 4 (the VPDPBUSD operand order). A panel is thus also AMX's VNNI
//     layout of a B tile: 4 kblocks rows of 64 bytes (16 channels x 4 columns).
using DenseUkernel = void (*)(size_t m, size_t kblocks, const uint8_t* a, size_t lda,
                              const uint8_t* w, size_t panel_stride, size_t npanels,
                              int32_t* c, size_t ldc);

// Sparse ternary rows for the GEMM: per row, scale group and segment, the +1 then the -1
// entries, each the byte offset of its column's activations from the tile's first byte
// (the runtime resolves columns to offsets when it packs: one load per entry in the kernels'
// walk instead of an index and a table lookup). Entries ascend by
// padded column. Segments split a group's columns into consecutive ranges of `span` columns
// that the kernels walk one at a time for all rows, so the activations a segment reads stay
// in L1 (the runtime orders a convolution's columns channel block by channel block).
// start[2 s] is the first +1 entry of list s = (r groups + g) segments + segment,
// start[2 s + 1] its first -1 entry, start[2 s + 2] its end. One flat list per row and
// segment: no per-block headers, which cost as much as the entries at 98% sparsity.
struct SparseRows {
  size_t rows = 0, groups = 1, segments = 1;
  aligned_vector<int32_t> offset;
  std::vector<uint32_t> start;  // 2 rows groups segments + 1 entries
};

// Entries per chunk of a row: the kernels' int16 partial sums stay exact (128 * 255 < 2^15).
inline constexpr size_t kSparseChunk = 128;

// The one walk of the GEMM kernels over row r's entries in scale group g and segment seg:
// chunk(off, npos, n) for chunks of at most kSparseChunk entries, off[0, npos) the +1
// columns' offsets, off[npos, n) the -1 columns'.
template <typename F>
void row_chunks(const SparseRows& w, size_t r, size_t g, size_t seg, F&& chunk) {
  const uint32_t* s = w.start.data() + 2 * ((r * w.groups + g) * w.segments + seg);
  for (size_t e = s[0]; e < s[2]; e += kSparseChunk) {
    const size_t end = std::min<size_t>(s[2], e + kSparseChunk);
    const size_t npos = s[1] > e ? std::min<size_t>(s[1], end) - e : 0;
    chunk(w.offset.data() + e, npos, end - e);
  }
}

// Entries [e0, e1) of a chunk four at a time (then one at a time): step(offsets...), so a
// kernel can issue four loads ahead of their adds.
template <typename Step>
void walk_entries(const int32_t* off, size_t e0, size_t e1, Step step) {
  size_t e = e0;
  for (; e + 4 <= e1; e += 4) step(off[e], off[e + 1], off[e + 2], off[e + 3]);
  for (; e < e1; ++e) step(off[e]);
}

// Sparse ternary rows for the GEMV, in bands of `band` rows (4, 8 or 16) that share each
// 128-column block of activations: one byte permute gathers the entries of the whole band.
// Per band and block, in one sequential stream: a header of `band` bytes, then the entries
// of the block's rows in row order, one byte each: the column offset in bits 0-6, bit 7 set
// for a -1. A block with at most 64 entries (one pass) has header bytes end[i], the number
// of entries of rows 0..i (the lane bounds as the kernel uses them, no arithmetic); a longer
// block has 0xFF as its last header byte and its rows' counts as the first `band` bytes of
// its entries. (Headers inline rather than in a table per band: one stream for the hardware
// prefetcher, 1.1x faster in DRAM at 90% sparsity.)
// 1 byte per non-zero plus 1 per row and block (0.86 bits per weight at 90% sparsity).
// pack_sparse_bands picks the band so that a block's entries usually fit 64 lanes. Rows are
// padded to whole bands with empty rows; start[q] is the byte offset of band q's stream.
inline constexpr size_t kMaxBandRows = 16;
struct SparseBands {
  size_t rows = 0, blocks = 0, blocks_per_group = 1, band = 4;
  aligned_vector<uint8_t> bytes;
  std::vector<uint64_t> start;  // bands + 1 entries
  static constexpr uint8_t kLongBlock = 0xFF;  // last header byte of a block of > 64 entries
  size_t bands() const { return start.empty() ? 0 : start.size() - 1; }
  size_t groups() const { return blocks / blocks_per_group; }
};

// For bands [band0, band1) and scale groups g (blocks_per_group blocks each):
// y[(r - band * band0) * groups + g] = row r's +1 columns of x minus its -1 columns over the
// group, x uint8 (K' bytes, 64 bytes of readable slack after the end).
using SparseGemvUkernel = void (*)(const uint8_t* x, const SparseBands& w, size_t band0,
                                   size_t band1, int32_t* y);
// c[(r - row0) * ldc + i] = row r's +1 columns minus its -1 columns in scale group g, for
// pixel i < lanes (1..kSparseTileLanes) of a tile of uint8 activation bytes whose columns are
// the `lanes` bytes at at + the entries' offsets (a k-major tile of 64 lanes, or the shifted
// windows of padded channel planes for a convolution: no im2col copy). Lanes from `lanes` to
// the next multiple of 32 may be written too (with sums of whatever bytes are there), and
// read from the windows.
using SparseGemmUkernel = void (*)(const uint8_t* at, const SparseRows& w, size_t row0, size_t row1,
                                   size_t g, size_t lanes, int32_t* c, size_t ldc);

// Implicit-im2col int8 GEMM for stride-1 convolutions: as a DenseUkernel on the int8 layout,
// but A(i, k) = a[p(i) * lda + koff[k / 16] + k % 16]: row i is an output pixel, p(i) its
// window's first pixel in a padded NHWC image (lda: its channels), koff[b] the byte offset of
// column block b (its kernel tap and channels) from there. Rows come in tiles of tile_rows
// (<= 16) pixels, tile t's first at pixel t * tile_pitch: p(i) = i / tile_rows * tile_pitch +
// i % tile_rows. tile_rows = tile_pitch = 16: every pixel of the padded width (the padding
// columns' rows computed, then dropped); tile_rows = the output width (<= 16), tile_pitch = the
// padded width: only the real pixels, one output row per tile. m <= kConvTiles tiles (a
// multiple of the AMX kernel's two- and three-tile blockings). Any offsets: the tile kernel
// takes 64-column steps where every step's four blocks are contiguous (koff[4j + q] = koff[4j]
// + 16 q), else narrower ones.
inline constexpr size_t kConvTiles = 6;
using ConvUkernel = void (*)(size_t m, size_t kblocks, const uint8_t* a, size_t lda, size_t tile_rows,
                             size_t tile_pitch, const int32_t* koff, const uint8_t* w, size_t panel_stride,
                             size_t npanels, int32_t* c, size_t ldc);

// Indirect int8 GEMM (XNNPACK's IGEMM) for dense convolutions of any stride and dilation: a
// DenseUkernel on the int8 layout for any m (the kernel walks its own row tiles), but
// A(i, k) = a[row_offset[i] + koff[k / 16] + k % 16]: row i is an output pixel whose window
// starts row_offset[i] bytes into a padded NHWC image, koff[b] the offset of column block b
// (its kernel tap and 16 of its channels) from there. No im2col rows, and unlike the AMX
// ConvUkernel no padding columns computed (2 of 16 per row at 14x14).
using IgemmUkernel = void (*)(size_t m, size_t kblocks, const uint8_t* a, const int32_t* row_offset,
                              const int32_t* koff, const uint8_t* w, size_t panel_stride, size_t npanels,
                              int32_t* c, size_t ldc);

// Dense int8 weights of a stride-1 convolution with few input channels, for plane_conv:
// lanes are output pixels (as in the sparse GEMM's implicit tiles), and each (input channel,
// kernel row, run of up to 4 of the row's taps) is one 4-byte VPDPBUSD operand per pixel, its
// taps' bytes, where im2col rows of such a layer (9 bytes per pixel for a 1-channel 3x3, 25
// for a 5x5) cost more than the products.
// Operand t of lane i: bytes at at + window[t] + j * tap_step + i for j < kernel_w (the taps
// per operand, <= 4), zero above. w[t * (rows + 15) + r]: the four int8 weights of row r
// (output channel) for operand t (zero at j >= kernel_w, and for the taps a row's last run
// lacks: a 5-tap row is runs of 4 and 4, the second with 3 zero weights), the rows of an
// operand contiguous (a kernel's 16 rows from any row0 at fixed offsets); the last 15 rows
// are zero, so a kernel may compute 16 rows from any row below `rows`.
inline constexpr size_t kPlaneConvMaxTaps = 4;
struct PlaneConvWeights {
  size_t rows = 0, taps = 0, kernel_w = 0;  // taps: operands; kernel_w: taps per operand
  int32_t tap_step = 1;
  std::vector<int32_t> window;  // taps entries
  aligned_vector<int32_t> w;    // taps x (rows + 15)
  // The same weights as int16 pairs for kernels without VNNI (VPMADDWD, exact for uint8
  // bytes and int8 weights): w16[(t * (rows + 15) + r) * 2 + h] holds taps 2h, 2h + 1.
  aligned_vector<int32_t> w16;
  // The bytes one operand of 16 lanes reads: its 16 pixels and the row's reach.
  size_t reach() const { return 16 + (kernel_w - 1) * size_t(tap_step); }
};
// c[(r - row0) * ldc + i] = sum over operands t and j < kernel_w of w's byte j of (r, t)
// (int8) times at[window[t] + j * tap_step + i] (uint8), rows r in [row0, row1), pixels
// i < lanes. Lanes up to the next multiple of 16 may be written too (c has room: ldc is a
// multiple of 16). Every byte read lies in [at, max(at + 16, e)), e past the last byte of
// an operand of those lanes (the AVX2 kernel's 16-byte loads end at an operand's last byte,
// or, where that would start before `at`, start at `at`): no slack past what the lanes use.
using PlaneConvUkernel = void (*)(const uint8_t* at, const PlaneConvWeights& w, size_t row0, size_t row1,
                                  size_t lanes, int32_t* c, size_t ldc);

// Activation bytes of `rows` rows of `cols` floats: out[i * ldo + j] =
// quantize_activation(x[i * ldx + j], act) + add (runtime/layer.h). Rows let one call fill
// the padded channel planes of the sparse GEMM (a row of the image per plane row).
using QuantizeUkernel = void (*)(const float* x, size_t rows, size_t cols, size_t ldx,
                                 const ActQuant& act, int32_t add, uint8_t* out, size_t ldo);

// Activation bytes of `channels` planes of `rows` x `cols` floats (rows contiguous in a
// plane, planes ldx floats apart) stored by pixel, as the dense methods read them (NHWC):
// out[i * ldo + j * ldp + c] = quantize_activation(x[c * ldx + i * cols + j], act) + add.
// ldo lets one call fill the rows of the implicit convolution's padded image.
using QuantizeNhwcUkernel = void (*)(const float* x, size_t channels, size_t rows, size_t cols,
                                     size_t ldx, const ActQuant& act, int32_t add, uint8_t* out,
                                     size_t ldp, size_t ldo);

// Activation bytes already quantized (codes handed over by the previous layer) into the
// rows of padded planes: out[i * ldo + j] = x[i * ldx + j] for j < cols; nothing else written.
using CopyRowsUkernel = void (*)(const uint8_t* x, size_t rows, size_t cols, size_t ldx, uint8_t* out, size_t ldo);

// The sh x sw phases of a padded plane of sh * ph rows of sw * pw bytes, for the sparse GEMM
// of a strided convolution: phase (py, px), ph x pw bytes at out + (py * sw + px) * stride,
// holds rows py, py + sh, ... and columns px, px + sw, ... of the plane:
// out[(py * sw + px) * stride + i * pw + j] = plane[(i * sh + py) * sw * pw + j * sw + px].
using DealPhasesUkernel = void (*)(const uint8_t* plane, size_t sh, size_t sw, size_t ph, size_t pw, size_t stride,
                                   uint8_t* out);

// 2x2 max pooling at stride 2 over a float plane whose windows all lie inside it, for
// i < rows, j < cols: y[i * ldy + j] = the maximum of x[2i][2j], x[2i][2j + 1],
// x[2i + 1][2j], x[2i + 1][2j + 1] (rows ldx floats apart) taken in that order from -inf by
// m = m < v ? v : m: a NaN never wins and the first of equal values (+0, -0) stays, as with
// std::max. (MAXPS(v, m) is that step: it returns m unless v > m.)
using MaxPool2x2Ukernel = void (*)(const float* x, size_t rows, size_t cols, size_t ldx, float* y, size_t ldy);
// That step, for the scalar kernel and the runtime's generic max pool (any window).
inline float pool_max_step(float m, float v) { return m < v ? v : m; }

// The float epilogue of one part and one scale group of a dense product, straight to the
// output: for i < m (pixels or batch rows), j < n (output channels),
//   out[i * ldm + j * ldn] =
//     max(float(raw[r(i) * ldr + j] + wc * wsum[j] - xsum[i]) * scale[j] + bias[j], floor)
// with xsum[i] = 0 when xsum is null; floor is 0 (ReLU) or -inf; r(i) = rows[i], or i when
// rows is null (the implicit convolution's sums are by padded pixel, its output by pixel). The float operations are
// these, in this order and never fused (no FMA): every kernel gives the scalar one's bits.
struct EpilogueArgs {
  const int32_t* wsum;
  int32_t wc;
  const int32_t* xsum;  // or null
  const float* scale;
  const float* bias;
  float floor;
  const uint32_t* rows;  // or null
};
using EpilogueUkernel = void (*)(const int32_t* raw, size_t ldr, size_t m, size_t n,
                                 const EpilogueArgs& e, float* out, size_t ldm, size_t ldn);
// One value of that output, the scalar kernels' expression (one place, so both references
// compute the same bits). Only from files built for the baseline ISA: with -mfma, GCC would
// contract the multiply and add.
inline float epilogue_value(const EpilogueArgs& e, int32_t raw, int32_t xsum, size_t j) {
  const float y = static_cast<float>(raw + e.wc * e.wsum[j] - xsum) * e.scale[j] + e.bias[j];
  return y < e.floor ? e.floor : y;
}
// The same output requantized for an NHWC reader: byte (quantize_activation(y, act) + add)
// mod 256 at out[i * ldo + j], the bytes the float epilogue followed by the NHWC quantizer
// give, without the two transposes between them (channel planes and back).
using EpilogueCodesUkernel = void (*)(const int32_t* raw, size_t ldr, size_t m, size_t n, const EpilogueArgs& e,
                                      const ActQuant& act, int32_t add, uint8_t* out, size_t ldo);

// Lanes [lane, lane + length) of a sparse GEMM tile are output pixels [pixel, pixel + length).
struct Run {
  int32_t lane, pixel, length;
};
// The runs cut into steps of at most `width` lanes (a kernel's vector), for the vector
// epilogues: step k covers lanes lane[k] + [0, length[k]), pixels from pixel[k]. Returns the
// number of steps: at most kRunSteps for runs of distinct lanes of a tile.
inline constexpr size_t kRunSteps = 2 * kSparseTile;  // the lanes of a packed tile
inline size_t run_steps(const Run* runs, size_t nruns, int32_t width, int32_t* lane, int32_t* pixel,
                        int32_t* length) {
  size_t steps = 0;
  for (size_t ri = 0; ri < nruns; ++ri)
    for (int32_t i = 0; i < runs[ri].length; i += width, ++steps)
      lane[steps] = runs[ri].lane + i, pixel[steps] = runs[ri].pixel + i,
      length[steps] = std::min(width, runs[ri].length - i);
  return steps;
}
// The same epilogue for the output channels j < n of a sparse GEMM tile (channel j's 64
// lanes at raw + j * ldr), one part and one group (e.xsum and e.rows null): for every run
// (runs of distinct lanes) and i < run.length,
//   out[j * ldn + (run.pixel + i) * ldm] =
//     max(float(raw[j * ldr + run.lane + i] + wc * wsum[j]) * scale[j] + bias[j], floor).
using RunsEpilogueUkernel = void (*)(const int32_t* raw, size_t ldr, size_t n, const Run* runs,
                                     size_t nruns, const EpilogueArgs& e, float* out, size_t ldm,
                                     size_t ldn);

enum class WeightFormat { ternary2, int8, ternary_sparse };
// gemv: an optional specialization for one activation row; tile_gemm: an optional
// specialization for at least kTileGemmMinRows rows (AMX: a 16-row tile wastes its rows on
// fewer). Both fall back to the format's gemm and are tested against its scalar gemm.
enum class KernelOp { gemm, gemv, tile_gemm };
inline constexpr size_t kTileGemmMinRows = 16;

struct KernelRequirement {
  Isa isa;
  bool vbmi;  // also needs AVX-512 VBMI byte permutes
  bool met() const;
};

struct DenseKernel {
  const char* name;
  WeightFormat format;
  KernelOp op;
  KernelRequirement needs;
  size_t mr;
  DenseUkernel fn;
};
// A kernel of one signature: no tile or format to choose by, only the ISA.
template <typename Fn>
struct Ukernel {
  const char* name;
  KernelRequirement needs;
  Fn fn;
};
using SparseGemvKernel = Ukernel<SparseGemvUkernel>;
// Entries a sparse GEMV kernel takes per pass over a band's block (pack_sparse_bands picks
// the band by it): 64 with VBMI's byte permute, 32 on AVX2 (and for the scalar one, which
// has no passes).
inline size_t sparse_gemv_pass_lanes(const SparseGemvKernel& k) { return k.needs.vbmi ? 64 : 32; }
using SparseGemmKernel = Ukernel<SparseGemmUkernel>;
using QuantizeKernel = Ukernel<QuantizeUkernel>;
using QuantizeNhwcKernel = Ukernel<QuantizeNhwcUkernel>;
using CopyRowsKernel = Ukernel<CopyRowsUkernel>;
using DealPhasesKernel = Ukernel<DealPhasesUkernel>;
using EpilogueKernel = Ukernel<EpilogueUkernel>;
using EpilogueCodesKernel = Ukernel<EpilogueCodesUkernel>;
using RunsEpilogueKernel = Ukernel<RunsEpilogueUkernel>;
using ConvKernel = Ukernel<ConvUkernel>;
using IgemmKernel = Ukernel<IgemmUkernel>;
using PlaneConvKernel = Ukernel<PlaneConvUkernel>;
using MaxPool2x2Kernel = Ukernel<MaxPool2x2Ukernel>;
// The widest tap span (kernel_w - 1) * tap_step a plane_conv kernel takes: an operand of 16
// pixels in one 64-byte masked load (VBMI), of 8 in one 16-byte load (AVX2); the scalar one
// any.
inline int64_t plane_conv_max_tap_span(const PlaneConvKernel& k) {
  return k.needs.isa == Isa::scalar ? std::numeric_limits<int64_t>::max() : k.needs.vbmi ? 48 : 8;
}

// Every compiled kernel (kernels.inc order: scalar first), for tests and benchmarks.
std::span<const DenseKernel> dense_kernels();
std::span<const SparseGemvKernel> sparse_gemv_kernels();
std::span<const SparseGemmKernel> sparse_gemm_kernels();
// The sparse GEMM for activation bytes of at most 15 (codes of at most 4 bits).
std::span<const SparseGemmKernel> sparse_gemm_u4_kernels();
std::span<const SparseGemmKernel> sparse_gemm_p4_kernels();
std::span<const QuantizeKernel> quantize_kernels();
std::span<const QuantizeNhwcKernel> quantize_nhwc_kernels();
std::span<const CopyRowsKernel> copy_rows_kernels();
std::span<const DealPhasesKernel> deal_phases_kernels();
std::span<const EpilogueKernel> epilogue_kernels();
std::span<const EpilogueCodesKernel> epilogue_codes_kernels();
std::span<const RunsEpilogueKernel> runs_epilogue_kernels();
std::span<const ConvKernel> conv_kernels();
std::span<const IgemmKernel> igemm_kernels();
std::span<const PlaneConvKernel> plane_conv_kernels();
std::span<const MaxPool2x2Kernel> max_pool_2x2_kernels();

// The best kernel the CPU supports at or below `cap` (the scalar one always qualifies).
const DenseKernel& best_dense(WeightFormat f, KernelOp op, Isa cap);
const SparseGemvKernel& best_sparse_gemv(Isa cap);
// small_codes: activation bytes of at most 15, which take the u4 kernel where there is one
// for the general kernel's ISA (AVX2), else the general kernel.
const SparseGemmKernel& best_sparse_gemm(Isa cap, bool small_codes = false);
// The packed 4-bit sparse GEMM for codes of at most 4 bits, or null where the unpacked
// kernels are the better choice (no packed kernel at the CPU's best sparse GEMM ISA).
const SparseGemmKernel* best_sparse_gemm_p4(Isa cap);
const QuantizeKernel& best_quantize(Isa cap);
const QuantizeNhwcKernel& best_quantize_nhwc(Isa cap);
const CopyRowsKernel& best_copy_rows(Isa cap);
const DealPhasesKernel& best_deal_phases(Isa cap);
const EpilogueKernel& best_epilogue(Isa cap);
const EpilogueCodesKernel& best_epilogue_codes(Isa cap);
const RunsEpilogueKernel& best_runs_epilogue(Isa cap);
const ConvKernel& best_conv(Isa cap);
const IgemmKernel& best_igemm(Isa cap);
const PlaneConvKernel& best_plane_conv(Isa cap);
const MaxPool2x2Kernel& best_max_pool_2x2(Isa cap);

}  // namespace stern::kernels
