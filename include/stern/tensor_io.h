// Tensor files: NumPy .npy (format versions 1.0 and 2.0, C order). Used by `stern run` for
// inputs and outputs, and by tests to exchange tensors with Python. Also the two helpers
// every command that feeds a model needs: fitting a tensor to a graph input, and argmax.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "stern/runtime.h"

namespace stern {

// Reads a little-endian, C-order array of dtype '<f4', '<f8', '<i8' or '|u1' and converts it
// to float32 ('<f8' rounds, '<i8' beyond 2^24 loses precision). The header is validated
// strictly (magic, version, dict keys, dtype, shape) and the data size must match the shape
// exactly; any problem throws stern::Error naming the file and the field.
FloatTensor read_npy(const std::filesystem::path& path);
// The same over bytes in memory; `name` is used in error messages.
FloatTensor parse_npy(std::span<const uint8_t> bytes, const std::string& name);

// Serializes as '<f4', format version 1.0, header padded so the data starts at a multiple of
// 64 bytes, as NumPy writes it. At most 32 dimensions (NumPy's limit).
std::vector<uint8_t> serialize_npy(const FloatTensor& tensor);
// serialize_npy + write_file_atomic.
void write_npy(const std::filesystem::path& path, const FloatTensor& tensor);

// Reshapes `t` to the graph input `input` (whose dimension 0 may be -1, the batch): kept as
// is when the ranks agree and every fixed dimension matches; otherwise dimension 0 of `t`
// is taken as the batch and the rest must hold exactly one input sample's values (so
// [N, 1, 28, 28] fits [-1, 784]), and a tensor with exactly one sample's shape gets a batch
// of 1. Throws stern::Error naming `where`, both shapes and the input otherwise.
FloatTensor reshape_for_input(FloatTensor t, const ValueInfo& input, const std::string& where);

// Index of the largest value in each row (dimension 0; the rest is the row), the first one
// on ties, as torch.argmax. A tensor of rank 0 or 1 is one row.
std::vector<int64_t> argmax_rows(const FloatTensor& t);

}  // namespace stern
