#include <algorithm>
#include <string>

#include "stern/error.h"
#include "stern/shape.h"
#include "stern/tensor_io.h"

namespace stern {

FloatTensor reshape_for_input(FloatTensor t, const ValueInfo& input, const std::string& where) {
  const Shape& want = input.shape;
  const auto mismatch = [&]() {
    fail(where, "tensor of shape " + shape_to_string(t.shape) + " does not fit model input '" +
                    input.name + "' of shape " + shape_to_string(want));
  };
  if (t.data.size() != static_cast<size_t>(t.numel())) {
    fail(where, "shape " + shape_to_string(t.shape) + " holds " + std::to_string(t.numel()) +
                    " values but the tensor has " + std::to_string(t.data.size()));
  }
  const bool same = t.shape.size() == want.size() &&
                    std::equal(want.begin(), want.end(), t.shape.begin(),
                               [](int64_t w, int64_t d) { return w == -1 || w == d; });
  if (same) return t;
  if (want.empty()) mismatch();
  int64_t sample = 1;
  for (size_t i = 1; i < want.size(); ++i) {
    if (want[i] < 0) mismatch();  // a free dimension beyond the batch: only an exact match fits
    sample *= want[i];
  }
  int64_t batch;
  if (std::equal(want.begin() + 1, want.end(), t.shape.begin(), t.shape.end())) {
    batch = 1;
  } else if (!t.shape.empty() && sample > 0 && t.numel() == t.shape[0] * sample) {
    batch = t.shape[0];
  } else {
    mismatch();
  }
  if (want[0] != -1 && want[0] != batch) mismatch();
  t.shape = want;
  t.shape[0] = batch;
  return t;
}

std::vector<int64_t> argmax_rows(const FloatTensor& t) {
  const int64_t rows = t.shape.size() <= 1 ? 1 : t.shape[0];
  const int64_t cols = rows == 0 ? 0 : static_cast<int64_t>(t.data.size()) / rows;
  std::vector<int64_t> out(static_cast<size_t>(rows), 0);
  for (int64_t r = 0; r < rows && cols > 0; ++r) {
    const float* row = t.data.data() + r * cols;
    out[static_cast<size_t>(r)] = std::max_element(row, row + cols) - row;
  }
  return out;
}

}  // namespace stern
