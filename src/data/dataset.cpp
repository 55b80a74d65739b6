#include "stern/dataset.h"

#include <cstdlib>
#include <string>

#include "stern/error.h"

namespace stern {
namespace {

const char* const kDebianFashionMnistDir = "/usr/share/datasets/fashion-mnist";

bool has_mnist(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::exists(dir / "mnist" / "digits" / "0.json", ec);
}

// The Debian package ships the IDX files gzipped; a user's copy may be unpacked.
std::filesystem::path idx_file(const std::filesystem::path& dir, const std::string& base) {
  std::error_code ec;
  const auto gz = dir / (base + ".gz");
  if (std::filesystem::exists(gz, ec)) return gz;
  const auto raw = dir / base;
  if (std::filesystem::exists(raw, ec)) return raw;
  fail(gz.string(), "file not found (nor " + raw.filename().string() +
                        "); install the Debian package dataset-fashion-mnist or set "
                        "STERN_DATA_DIR to a folder holding fashion-mnist/");
}

}  // namespace

Dataset Dataset::head(int64_t n) const {
  if (n < 0) fail("dataset " + name, "head(" + std::to_string(n) + "): expected n >= 0");
  Dataset out = *this;
  if (n >= count) return out;
  out.count = n;
  out.images.resize(static_cast<size_t>(n * image_size()));
  out.labels.resize(static_cast<size_t>(n));
  return out;
}

DatasetSplit load_fashion_mnist(const std::filesystem::path& dir) {
  // Looked up in a fixed order so a missing install is reported by its first file.
  const auto train_images = idx_file(dir, "train-images-idx3-ubyte");
  const auto train_labels = idx_file(dir, "train-labels-idx1-ubyte");
  const auto test_images = idx_file(dir, "t10k-images-idx3-ubyte");
  const auto test_labels = idx_file(dir, "t10k-labels-idx1-ubyte");
  DatasetSplit split;
  split.train = load_idx(train_images, train_labels, "fashion-mnist");
  split.test = load_idx(test_images, test_labels, "fashion-mnist");
  for (const Dataset* part : {&split.train, &split.test}) {
    if (part->height != 28 || part->width != 28) {
      fail(dir.string(), "dimension mismatch: " + std::string(part == &split.train ? "train" : "t10k") +
                             " images are " + std::to_string(part->height) + "x" +
                             std::to_string(part->width) + ", expected 28x28");
    }
  }
  return split;
}

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("STERN_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  if (has_mnist("data")) return std::filesystem::absolute("data");
  return STERN_DEFAULT_DATA_DIR;
}

DatasetSplit load_dataset(const std::string& name) {
  const auto dir = default_data_dir();
  if (name == "mnist") return load_mnist_json(dir / "mnist" / "digits");
  if (name == "fashion-mnist") {
    std::error_code ec;
    const auto local = dir / "fashion-mnist";
    return load_fashion_mnist(std::filesystem::exists(local, ec) ? local
                                                                 : kDebianFashionMnistDir);
  }
  fail("dataset '" + name + "'", "unknown, expected mnist or fashion-mnist");
}

}  // namespace stern
