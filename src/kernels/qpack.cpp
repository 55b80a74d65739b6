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

SparseRows pack_sparse(const int8_t* codes, int64_t rows, const ColumnLayout& layout,
                       const std::string& where) {
  SparseRows s;
  s.rows = rows;
  s.blocks = layout.padded_cols() / kSparseBlock;
  s.start.reserve(rows * s.blocks + 1);
  std::vector<uint8_t> offsets[2];
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* row = codes + r * layout.cols;
    for (size_t b = 0; b < s.blocks; ++b) {
      offsets[0].clear(), offsets[1].clear();
      // Padded columns of a block map back to no weight; scan the block's real columns.
      const int64_t g = (b * kSparseBlock) / layout.padded_group;
      const int64_t in_group = b * kSparseBlock - g * layout.padded_group;
      for (int64_t j = 0; j < int64_t(kSparseBlock); ++j) {
        const int64_t local = in_group + j;
        if (local >= layout.group) break;
        const int64_t k = g * layout.group + local;
        if (k >= layout.cols) break;
        if (row[k] != 0) offsets[row[k] > 0 ? 0 : 1].push_back(static_cast<uint8_t>(j));
      }
      if (s.bytes.size() > std::numeric_limits<uint32_t>::max() - 2 * kSparseBlock)
        fail(where, "sparse weights exceed 4 GiB in the kernel layout");
      s.start.push_back(static_cast<uint32_t>(s.bytes.size()));
      s.bytes.push_back(static_cast<uint8_t>(offsets[0].size()));
      s.bytes.push_back(static_cast<uint8_t>(offsets[1].size()));
      for (const auto& list : offsets) s.bytes.insert(s.bytes.end(), list.begin(), list.end());
    }
  }
  s.start.push_back(static_cast<uint32_t>(s.bytes.size()));
  // Kernels read offsets with 64-byte masked loads: keep a readable cache line at the end.
  s.bytes.resize(s.bytes.size() + 64, 0);
  return s;
}

}  // namespace stern::kernels
