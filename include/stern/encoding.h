// Weight encodings: the single table every part of stern (container, exporter, kernels,
// compressor, cost model) consults. Like ggml's type_traits, each encoding is described
// once: nominal bits per weight, how a canonical WeightMatrix packs into its stored payload
// and back, how the payload is validated, and a scalar reference dot product.
//
// Weight tensors of Conv2d / Linear are viewed as a matrix of `rows` output channels by
// `cols` fan-in. Conv2d weights are stored OHWI (out, kh, kw, in), so the fan-in order is
// (kh, kw, in) and a run of consecutive columns is consecutive input channels at one kernel
// position: exactly the FGQ group, and the order NHWC im2col produces.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace stern {

// Stored ids are part of the file format: append, never renumber.
enum class Encoding : uint16_t {
  f32 = 0,             // IEEE float32, any tensor (weights, biases, BN parameters)
  i8 = 1,              // symmetric int8 codes in [-127, 127], one float scale per group
  ternary2 = 2,        // {-1, 0, +1} at 2 bits, scale per group (alpha, or alpha+/alpha-)
  ternary_sparse = 3,  // per row: indices of +1 and of -1 (uint16 deltas), scale per group
  signed_binary = 4,   // per row: sign s and a bitmap, w = s * alpha * bit
  binary = 5,          // per row: sign bitmap, w = alpha * (bit ? +1 : -1)
};
inline constexpr int kEncodingCount = 6;

// Canonical unpacked form of a quantized weight matrix. codes[r * cols + c] holds the
// integer symbol (f32 uses `values` instead). Value of a weight:
//   code > 0: code * scale_pos[r * groups + c / group]
//   code < 0: code * scale_neg[r * groups + c / group]   (scale_neg == scale_pos if symmetric)
// group == cols means one scale per row (per output channel).
struct WeightMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t group = 0;  // columns per scale group, 1 <= group <= cols
  bool asymmetric = false;
  std::vector<int8_t> codes;
  std::vector<float> scale_pos;  // rows * groups_per_row()
  std::vector<float> scale_neg;  // same size; equal to scale_pos when !asymmetric
  std::vector<float> values;     // f32 encoding only: rows * cols

  int64_t groups_per_row() const { return group > 0 ? (cols + group - 1) / group : 0; }
  float scale_of(int64_t r, int64_t c, int8_t code) const {
    const int64_t g = r * groups_per_row() + c / group;
    return code < 0 ? scale_neg[g] : scale_pos[g];
  }
  float weight(int64_t r, int64_t c) const;  // dequantized value
  int64_t nonzeros() const;                  // codes != 0 (or values != 0 for f32)
  double density() const;                    // nonzeros() / (rows * cols); 0 when empty
};

struct EncodingTraits {
  Encoding id;
  const char* name;          // stable, used in CLI flags, JSON and `stern info`
  int block_size;            // weights per storage block (1 for index lists)
  double bits_per_weight;    // nominal storage bits per weight, scales excluded
  int8_t min_code, max_code; // alphabet of codes
  // Canonical -> payload. The matrix is checked first (codes in the alphabet, scales
  // finite, signed_binary rows single-signed); a violation throws stern::Error.
  std::vector<uint8_t> (*pack)(const WeightMatrix& m);
  // Payload -> canonical. Validates every count and offset against the payload size and
  // the expected rows/cols; throws stern::Error naming `where` on any inconsistency.
  WeightMatrix (*unpack)(std::span<const uint8_t> payload, int64_t rows, int64_t cols,
                         const std::string& where);
  // Reference dot product of row r with x (length cols); the scalar truth kernels match.
  float (*dot_ref)(const WeightMatrix& m, int64_t r, const float* x);
};

const EncodingTraits& encoding_traits(Encoding e);
// Throws stern::Error when `id` is not a known encoding.
const EncodingTraits& encoding_traits_checked(uint16_t id, const std::string& where);
// Looks an encoding up by its stable name ("ternary2", ...); throws listing the valid names.
Encoding encoding_from_name(std::string_view name);
std::span<const EncodingTraits> all_encodings();

// Dequantize any payload to float32 (rows * cols).
std::vector<float> dequantize(Encoding e, std::span<const uint8_t> payload, int64_t rows,
                              int64_t cols, const std::string& where);

// Convenience for FP32 tensors: pack floats into an f32 payload.
std::vector<uint8_t> pack_f32(std::span<const float> values);

}  // namespace stern
