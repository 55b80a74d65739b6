// The encoding table and what every encoding shares: the scale header, matrix checks, the
// reference dot product and dequantization.
#include <cmath>
#include <string>

#include "encoding/encodings.h"
#include "encoding/payload.h"

namespace stern {

using namespace encoding_detail;

float WeightMatrix::weight(int64_t r, int64_t c) const {
  if (!values.empty()) return values[r * cols + c];
  const int8_t code = codes[r * cols + c];
  return code == 0 ? 0.0f : static_cast<float>(code) * scale_of(r, c, code);
}

int64_t WeightMatrix::nonzeros() const {
  int64_t n = 0;
  if (!values.empty()) {
    for (float v : values) n += v != 0.0f;
  } else {
    for (int8_t c : codes) n += c != 0;
  }
  return n;
}

double WeightMatrix::density() const {
  return rows * cols > 0 ? double(nonzeros()) / double(rows * cols) : 0.0;
}

namespace encoding_detail {

void write_scales(PayloadWriter& w, const WeightMatrix& m) {
  w.write(static_cast<uint32_t>(m.group));
  w.write(static_cast<uint8_t>(m.asymmetric));
  w.write_bytes("\0\0\0", 3);
  w.write_bytes(m.scale_pos.data(), m.scale_pos.size() * sizeof(float));
  if (m.asymmetric) w.write_bytes(m.scale_neg.data(), m.scale_neg.size() * sizeof(float));
}

void read_scales(PayloadReader& r, WeightMatrix& m) {
  const uint32_t group = r.read<uint32_t>("group");
  const uint8_t asymmetric = r.read<uint8_t>("asymmetric");
  r.take(3, "reserved");
  if (group < 1 || group > m.cols)
    fail(r.where(), "scale group " + std::to_string(group) + " out of range [1, " +
                        std::to_string(m.cols) + "]");
  if (asymmetric > 1) fail(r.where(), "asymmetric flag must be 0 or 1, got " + std::to_string(asymmetric));
  m.group = group;
  m.asymmetric = asymmetric;
  const uint64_t n = checked_mul(m.rows, m.groups_per_row(), r.where());
  auto read_floats = [&](std::vector<float>& out, const char* field) {
    const uint8_t* p = r.take(checked_mul(n, sizeof(float), r.where()), field);
    out.resize(n);
    std::memcpy(out.data(), p, n * sizeof(float));
    for (float s : out)
      if (!std::isfinite(s)) fail(r.where(), std::string(field) + " holds a non-finite scale");
  };
  read_floats(m.scale_pos, "scale_pos");
  if (asymmetric)
    read_floats(m.scale_neg, "scale_neg");
  else
    m.scale_neg = m.scale_pos;
}

void check_matrix(const WeightMatrix& m, const EncodingTraits& t) {
  const std::string where = std::string("encoding ") + t.name;
  if (m.rows < 0 || m.cols < 0) fail(where, "negative matrix shape");
  const uint64_t n = checked_mul(m.rows, m.cols, where);
  if (t.id == Encoding::f32) {
    if (m.values.size() != n) fail(where, "values must hold rows * cols floats");
    return;
  }
  if (m.codes.size() != n) fail(where, "codes must hold rows * cols symbols");
  if (m.group < 1 || m.group > m.cols)
    fail(where, "scale group " + std::to_string(m.group) + " out of range [1, " + std::to_string(m.cols) + "]");
  const uint64_t scales = checked_mul(m.rows, m.groups_per_row(), where);
  if (m.scale_pos.size() != scales || m.scale_neg.size() != scales)
    fail(where, "scale_pos and scale_neg must hold rows * groups scales");
  if (!m.asymmetric && m.scale_pos != m.scale_neg)
    fail(where, "scale_neg differs from scale_pos but the matrix is not asymmetric");
  for (int8_t c : m.codes)
    if (c < t.min_code || c > t.max_code)
      fail(where, "code " + std::to_string(c) + " outside [" + std::to_string(t.min_code) + ", " +
                      std::to_string(t.max_code) + "]");
  for (size_t i = 0; i < scales; ++i)
    if (!std::isfinite(m.scale_pos[i]) || !std::isfinite(m.scale_neg[i]))
      fail(where, "non-finite scale");
}

float dot_ref(const WeightMatrix& m, int64_t r, const float* x) {
  double acc = 0.0;  // double so the reference is not itself a source of rounding error
  for (int64_t c = 0; c < m.cols; ++c) acc += static_cast<double>(m.weight(r, c)) * x[c];
  return static_cast<float>(acc);
}

}  // namespace encoding_detail

std::span<const EncodingTraits> all_encodings() {
  static const EncodingTraits table[kEncodingCount] = {
      f32_traits(),           i8_traits(),           ternary2_traits(),
      ternary_sparse_traits(), signed_binary_traits(), binary_traits(),
  };
  return table;
}

const EncodingTraits& encoding_traits(Encoding e) { return all_encodings()[static_cast<int>(e)]; }

const EncodingTraits& encoding_traits_checked(uint16_t id, const std::string& where) {
  if (id >= kEncodingCount)
    fail(where, "unknown encoding id " + std::to_string(id) + " (expected 0.." +
                    std::to_string(kEncodingCount - 1) + ")");
  return all_encodings()[id];
}

Encoding encoding_from_name(std::string_view name) {
  std::string valid;
  for (const auto& t : all_encodings()) {
    if (name == t.name) return t.id;
    valid += (valid.empty() ? "" : ", ") + std::string(t.name);
  }
  throw Error("unknown encoding '" + std::string(name) + "' (expected one of: " + valid + ")");
}

std::vector<float> dequantize(Encoding e, std::span<const uint8_t> payload, int64_t rows,
                              int64_t cols, const std::string& where) {
  WeightMatrix m = encoding_traits(e).unpack(payload, rows, cols, where);
  if (e == Encoding::f32) return std::move(m.values);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = m.weight(r, c);
  return out;
}

std::vector<uint8_t> pack_f32(std::span<const float> values) {
  WeightMatrix m;
  m.rows = 1;
  m.cols = static_cast<int64_t>(values.size());
  m.values.assign(values.begin(), values.end());
  return encoding_traits(Encoding::f32).pack(m);
}

}  // namespace stern
