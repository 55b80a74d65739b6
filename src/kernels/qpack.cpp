#include "kernels/qpack.h"

#include <algorithm>
#include <limits>

#include "stern/error.h"

namespace stern::kernels {

ColumnLayout column_layout(int64_t cols, int64_t group, int64_t unit) {
  ColumnLayout l;
  l.cols = cols;
  l.group = std::clamp<int64_t>(group, 1, std::max<int64_t>(cols, 1));
  l.groups = (cols + l.group - 1) / l.group;
  l.padded_group = (l.group + unit - 1) / unit * unit;
  return l;
}

size_t panel_stride(const ColumnLayout& layout, WeightFormat format) {
  const size_t blocks = layout.padded_cols() / kKBlock;
  return blocks * (format == WeightFormat::int8 ? kInt8BlockBytes : kTernary2BlockBytes);
}

aligned_vector<uint8_t> pack_dense(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                                   WeightFormat format) {
  const size_t panels = (rows + kPanel - 1) / kPanel, stride = panel_stride(layout, format);
  aligned_vector<uint8_t> out(panels * stride, 0);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* panel = out.data() + (r / kPanel) * stride;
    const size_t lane = (r % kPanel) * 4;
    for (int64_t k = 0; k < layout.cols; ++k) {
      const size_t kp = layout.map(k), b = kp / kKBlock, q = (kp % kKBlock) / 4, t = kp % 4;
      const int8_t code = codes[r * layout.cols + k];
      if (format == WeightFormat::int8)
        panel[b * kInt8BlockBytes + q * 64 + lane + t] = static_cast<uint8_t>(code);
      else
        panel[b * kTernary2BlockBytes + lane + t] |= static_cast<uint8_t>(code + 1) << (2 * q);
    }
  }
  return out;
}

namespace {

// fn(offset, code) for the non-zero codes of `row` in 128-column block b, ascending. Padded
// columns of a block map back to no weight: only the block's real columns are scanned.
template <typename F>
void block_entries(const int8_t* row, const ColumnLayout& layout, size_t b, F&& fn) {
  const int64_t g = (b * kSparseBlock) / layout.padded_group;
  const int64_t in_group = b * kSparseBlock - g * layout.padded_group;
  for (int64_t j = 0; j < int64_t(kSparseBlock); ++j) {
    const int64_t local = in_group + j;
    if (local >= layout.group) break;
    const int64_t k = g * layout.group + local;
    if (k >= layout.cols) break;
    if (row[k] != 0) fn(static_cast<uint8_t>(j), row[k]);
  }
}

}  // namespace

std::vector<int32_t> conv_block_offsets(int64_t channels, int64_t kernel_h, int64_t kernel_w, int64_t dilation_h,
                                        int64_t dilation_w, int64_t padded_width) {
  std::vector<int32_t> koff(kernel_h * kernel_w * channels / int64_t(kKBlock));
  for (size_t b = 0; b < koff.size(); ++b) {
    const int64_t col = int64_t(b * kKBlock), tap = col / channels, ch = col % channels;
    koff[b] = static_cast<int32_t>(
        ((tap / kernel_w) * dilation_h * padded_width + (tap % kernel_w) * dilation_w) * channels + ch);
  }
  return koff;
}

std::vector<int32_t> conv_window_offsets(int64_t out_h, int64_t out_w, int64_t stride_h, int64_t stride_w,
                                         int64_t channels, int64_t padded_width) {
  std::vector<int32_t> window(out_h * out_w);
  for (int64_t p = 0; p < out_h * out_w; ++p)
    window[p] = static_cast<int32_t>(((p / out_w) * stride_h * padded_width + (p % out_w) * stride_w) * channels);
  return window;
}

PlaneConvWeights pack_plane_conv(const int8_t* codes, int64_t rows, int64_t channels, int64_t kernel_h,
                                 int64_t kernel_w, int64_t plane, int64_t row_step, int64_t tap_step) {
  const int64_t per = std::min<int64_t>(kernel_w, int64_t(kPlaneConvMaxTaps)), runs = (kernel_w + per - 1) / per;
  PlaneConvWeights w;
  w.rows = size_t(rows), w.taps = size_t(channels * kernel_h * runs), w.kernel_w = size_t(per);
  w.tap_step = int32_t(tap_step);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t kh = 0; kh < kernel_h; ++kh)
      for (int64_t run = 0; run < runs; ++run)
        w.window.push_back(int32_t(c * plane + kh * row_step + run * per * tap_step));
  w.w.assign((w.rows + 15) * w.taps, 0);
  w.w16.assign(2 * w.w.size(), 0);
  const int64_t cols = kernel_h * kernel_w * channels;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < channels; ++c)
      for (int64_t kh = 0; kh < kernel_h; ++kh)
        for (int64_t run = 0; run < runs; ++run) {
          uint32_t word = 0;
          for (int64_t j = 0, kw = run * per; j < per && kw < kernel_w; ++j, ++kw)
            word |= uint32_t(uint8_t(codes[r * cols + (kh * kernel_w + kw) * channels + c])) << (8 * j);
          const size_t at = size_t((c * kernel_h + kh) * runs + run) * (w.rows + 15) + size_t(r);
          w.w[at] = int32_t(word);
          for (size_t h = 0; h < 2; ++h)
            w.w16[2 * at + h] = int32_t(uint32_t(uint16_t(int16_t(int8_t(word >> (16 * h))))) |
                                        uint32_t(uint16_t(int16_t(int8_t(word >> (16 * h + 8))))) << 16);
        }
  return w;
}

SparseRows pack_sparse(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                       std::span<const int64_t> kperm, int64_t span,
                       std::span<const int32_t> column_offset, const std::string& where) {
  SparseRows s;
  s.rows = rows;
  s.groups = layout.groups;
  s.segments = (layout.padded_group + span - 1) / span;
  s.start.reserve(2 * rows * s.groups * s.segments + 1);
  std::vector<int64_t> lists[2];  // padded column relative to the group, +1 and -1
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = codes + r * layout.cols;
    for (int64_t g = 0; g < layout.groups; ++g) {
      lists[0].clear(), lists[1].clear();
      for (int64_t k = g * layout.group; k < std::min(layout.cols, (g + 1) * layout.group); ++k)
        if (row[k] != 0) lists[row[k] > 0 ? 0 : 1].push_back(kperm[k] - g * layout.padded_group);
      for (auto& list : lists) std::sort(list.begin(), list.end());
      const int64_t* at[2] = {lists[0].data(), lists[1].data()};
      const int64_t* end[2] = {at[0] + lists[0].size(), at[1] + lists[1].size()};
      for (size_t seg = 0; seg < s.segments; ++seg)
        for (int sign = 0; sign < 2; ++sign) {
          if (s.offset.size() > std::numeric_limits<uint32_t>::max() - uint64_t(layout.padded_group))
            fail(where, "sparse weights exceed 2^32 entries in the kernel layout");
          s.start.push_back(static_cast<uint32_t>(s.offset.size()));
          for (; at[sign] != end[sign] && *at[sign] < int64_t(seg + 1) * span; ++at[sign])
            s.offset.push_back(column_offset[g * layout.padded_group + *at[sign]]);
        }
    }
  }
  s.start.push_back(static_cast<uint32_t>(s.offset.size()));
  return s;
}

SparseBands pack_sparse_bands(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                              size_t band, size_t pass_lanes) {
  SparseBands s;
  s.rows = rows;
  s.blocks = layout.padded_cols() / kSparseBlock;
  s.blocks_per_group = layout.padded_group / kSparseBlock;
  if (band == 0) {
    // The widest band whose block holds at most 7/8 of a pass on average (one 64-lane pass
    // about 97% of the time): 4 rows at 90% sparsity, 8 at 95%, 16 at 98%; for 32-lane
    // passes 4 rows up to 95%, 8 at 98%. A wider band costs every pass a step per row.
    const int64_t nonzeros = std::count_if(codes, codes + rows * layout.cols, [](int8_t c) { return c != 0; });
    const double per_row_block = double(nonzeros) / double(std::max<int64_t>(1, rows * layout.cols)) * kSparseBlock;
    band = 4;
    while (band < kMaxBandRows && 2 * band * per_row_block <= 0.875 * double(pass_lanes)) band *= 2;
  }
  s.band = band;
  const int64_t bands = (rows + band - 1) / band;
  s.start.reserve(bands + 1);
  std::vector<uint8_t> block, count(band);
  for (int64_t q = 0; q < bands; ++q) {
    s.start.push_back(s.bytes.size());
    for (size_t b = 0; b < s.blocks; ++b) {
      block.clear();
      std::fill(count.begin(), count.end(), 0);
      for (int64_t r = q * band; r < std::min<int64_t>(rows, (q + 1) * band); ++r) {
        const size_t before = block.size();
        block_entries(codes + r * layout.cols, layout, b, [&](uint8_t j, int8_t code) {
          block.push_back(static_cast<uint8_t>(code > 0 ? j : j | 0x80));
        });
        count[r % band] = static_cast<uint8_t>(block.size() - before);
      }
      const size_t h = s.bytes.size();
      s.bytes.resize(h + band, 0);
      if (block.size() <= 64) {
        for (size_t i = 0, end = 0; i < band; ++i) s.bytes[h + i] = static_cast<uint8_t>(end += count[i]);
      } else {
        s.bytes[h + band - 1] = SparseBands::kLongBlock;
        s.bytes.insert(s.bytes.end(), count.begin(), count.end());
      }
      s.bytes.insert(s.bytes.end(), block.begin(), block.end());
    }
  }
  s.start.push_back(s.bytes.size());
  // The GEMV loads entries 64 bytes at a time: keep a readable cache line at the end.
  s.bytes.resize(s.bytes.size() + 64, 0);
  return s;
}

}  // namespace stern::kernels
