// Packing into the run-time layouts of igemm.h: weight codes (done once at load) and the
// column layout that pads each scale group to whole kernel blocks.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/igemm.h"

namespace stern::kernels {

// Scale groups of `group` columns, each padded to `padded_group` (a multiple of the
// kernel's unit) so a kernel call never straddles two scales. Padding columns hold zero
// weights and zero activation bytes.
struct ColumnLayout {
  int64_t cols = 0, group = 0, groups = 0, padded_group = 0;
  int64_t padded_cols() const { return groups * padded_group; }
  int64_t map(int64_t k) const { return (k / group) * padded_group + k % group; }
  bool identity() const { return groups == 1 || group == padded_group; }
};
ColumnLayout column_layout(int64_t cols, int64_t group, int64_t unit);

// Dense panels (igemm.h layouts) of `rows` x layout.cols row-major codes; rows are padded
// to whole panels. ternary2 codes must be in {-1, 0, 1}, int8 in [-127, 127].
aligned_vector<uint8_t> pack_dense(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                                   WeightFormat format);
// Bytes between consecutive panels.
size_t panel_stride(const ColumnLayout& layout, WeightFormat format);

// Sparse rows (igemm.h) of codes in {-1, 0, 1}; layout.padded_group is a multiple of 128.
// Column k of the codes is padded column kperm[k] (within k's scale group; layout.map(k)
// when the runtime keeps the column order); segments of `span` padded columns. The
// activations of padded column j are at byte column_offset[j] of a tile.
// Throws stern::Error naming `where` when the lists would exceed 2^32 entries.
SparseRows pack_sparse(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                       std::span<const int64_t> kperm, int64_t span,
                       std::span<const int32_t> column_offset, const std::string& where);

// The plane_conv layout (igemm.h PlaneConvWeights) of `rows` x (kernel_h kernel_w channels)
// int8 codes in the runtime's column order (tap-major: column (kh kernel_w + kw) channels +
// c), for planes `plane` bytes apart whose kernel rows are `row_step` bytes apart and taps
// `tap_step` bytes; rows of more than kPlaneConvMaxTaps taps in runs of that many.
PlaneConvWeights pack_plane_conv(const int8_t* codes, int64_t rows, int64_t channels, int64_t kernel_h,
                                 int64_t kernel_w, int64_t plane, int64_t row_step, int64_t tap_step);

// Offsets of the implicit and indirect convolutions (igemm.h ConvUkernel, IgemmUkernel) into a
// padded NHWC image of `channels` channels (a multiple of 16) whose rows are `padded_width`
// pixels: per 16-column block of the tap-major columns, the byte offset of its tap and
// channels from a window's first byte (koff); per output pixel of an out_h x out_w output,
// the byte offset of its window in the image.
std::vector<int32_t> conv_block_offsets(int64_t channels, int64_t kernel_h, int64_t kernel_w, int64_t dilation_h,
                                        int64_t dilation_w, int64_t padded_width);
std::vector<int32_t> conv_window_offsets(int64_t out_h, int64_t out_w, int64_t stride_h, int64_t stride_w,
                                         int64_t channels, int64_t padded_width);

// The GEMV layout (igemm.h SparseBands) of the same codes (64-bit offsets: no size limit).
// band = 0 picks the band from the density, for a kernel that takes pass_lanes entries per
// pass (sparse_gemv_pass_lanes); tests force 4, 8 or 16.
SparseBands pack_sparse_bands(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                              size_t band = 0, size_t pass_lanes = 64);

}  // namespace stern::kernels
