// IDX files (the MNIST / Fashion-MNIST container): a big-endian header — two zero bytes,
// a type code (0x08 = unsigned byte), the number of dimensions — then one uint32 per
// dimension and the payload. Images are idx3 (count, rows, cols), labels idx1 (count).
#include <cstdio>
#include <cstring>
#include <string>

#include "data/file_bytes.h"
#include "stern/dataset.h"
#include "stern/error.h"

namespace stern {
namespace {

constexpr uint8_t kIdxTypeUByte = 0x08;
// Fashion-MNIST's training images inflate to 47 MB; anything far beyond is not a dataset
// we can hold in memory anyway.
constexpr uint64_t kIdxMaxFileBytes = uint64_t{1} << 31;
constexpr uint32_t kIdxMaxSide = 4096;

struct IdxArray {
  std::vector<uint32_t> dims;
  const uint8_t* data = nullptr;
};

uint32_t read_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

std::string hex_magic(const uint8_t* p) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
  return text;
}

// Validates the header against `expected_rank` and the payload size against the bytes
// present (exactly: a short file is truncated, a long one has trailing garbage).
IdxArray parse_idx(const std::vector<uint8_t>& bytes, uint8_t expected_rank,
                   const std::string& where) {
  if (bytes.size() < 4) {
    fail(where, "truncated: " + std::to_string(bytes.size()) +
                    " bytes, expected at least a 4-byte IDX magic");
  }
  const uint8_t expected_magic[4] = {0, 0, kIdxTypeUByte, expected_rank};
  if (std::memcmp(bytes.data(), expected_magic, 4) != 0) {
    fail(where, "wrong magic " + hex_magic(bytes.data()) + ", expected " +
                    hex_magic(expected_magic) + " (IDX unsigned byte, " +
                    std::to_string(expected_rank) + " dimensions)");
  }
  const size_t header_bytes = 4 + 4 * size_t{expected_rank};
  if (bytes.size() < header_bytes) {
    fail(where, "truncated header: " + std::to_string(bytes.size()) + " bytes, expected " +
                    std::to_string(header_bytes));
  }
  IdxArray array;
  uint64_t payload = 1;
  for (uint8_t i = 0; i < expected_rank; ++i) {
    const uint32_t dim = read_be32(bytes.data() + 4 + 4 * i);
    if (i > 0 && (dim == 0 || dim > kIdxMaxSide)) {
      fail(where, "dimension " + std::to_string(i) + " is " + std::to_string(dim) +
                      ", expected 1.." + std::to_string(kIdxMaxSide));
    }
    array.dims.push_back(dim);
    payload *= dim;  // < 2^32 * 4096^2: no overflow in 64 bits
  }
  const uint64_t present = bytes.size() - header_bytes;
  if (present < payload) {
    fail(where, "truncated: header declares " + std::to_string(array.dims[0]) +
                    " items (" + std::to_string(payload) + " bytes) but only " +
                    std::to_string(present) + " bytes follow the header");
  }
  if (present > payload) {
    fail(where, "count mismatch: header declares " + std::to_string(array.dims[0]) +
                    " items (" + std::to_string(payload) + " bytes) but " +
                    std::to_string(present) + " bytes follow the header");
  }
  array.data = bytes.data() + header_bytes;
  return array;
}

}  // namespace

Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                 const std::string& name) {
  using data::Compression;
  const std::string images_where = images.string();
  const std::string labels_where = labels.string();
  const auto image_bytes = data::read_file_bytes(images, kIdxMaxFileBytes, Compression::gzip_or_raw);
  const IdxArray image_array = parse_idx(image_bytes, 3, images_where);
  const auto label_bytes = data::read_file_bytes(labels, kIdxMaxFileBytes, Compression::gzip_or_raw);
  const IdxArray label_array = parse_idx(label_bytes, 1, labels_where);

  if (image_array.dims[0] != label_array.dims[0]) {
    fail(labels_where, "count mismatch: " + std::to_string(label_array.dims[0]) +
                           " labels but " + images_where + " holds " +
                           std::to_string(image_array.dims[0]) + " images");
  }
  Dataset ds;
  ds.name = name;
  ds.count = image_array.dims[0];
  ds.channels = 1;
  ds.height = image_array.dims[1];
  ds.width = image_array.dims[2];
  ds.labels.assign(label_array.data, label_array.data + ds.count);
  for (int64_t i = 0; i < ds.count; ++i) {
    if (ds.labels[i] >= ds.num_classes) {
      fail(labels_where, "label " + std::to_string(ds.labels[i]) + " of item " +
                             std::to_string(i) + " is out of range, expected 0.." +
                             std::to_string(ds.num_classes - 1));
    }
  }
  const size_t pixels = static_cast<size_t>(ds.count * ds.image_size());
  ds.images.resize(pixels);
  for (size_t i = 0; i < pixels; ++i) ds.images[i] = image_array.data[i] / 255.0f;
  return ds;
}

}  // namespace stern
