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

// One Fashion-MNIST part ("train" or "t10k").
Dataset load_fashion_part(const std::filesystem::path& dir, const std::string& part) {
  const auto images = idx_file(dir, part + "-images-idx3-ubyte");
  const auto labels = idx_file(dir, part + "-labels-idx1-ubyte");
  Dataset ds = load_idx(images, labels, "fashion-mnist");
  if (ds.height != 28 || ds.width != 28) {
    fail(dir.string(), "dimension mismatch: " + part + " images are " + std::to_string(ds.height) +
                           "x" + std::to_string(ds.width) + ", expected 28x28");
  }
  return ds;
}

// <data>/fashion-mnist if the user put a copy there, else the Debian package's folder.
std::filesystem::path fashion_mnist_dir() {
  std::error_code ec;
  const auto local = default_data_dir() / "fashion-mnist";
  return std::filesystem::exists(local, ec) ? local : std::filesystem::path(kDebianFashionMnistDir);
}

[[noreturn]] void unknown_dataset(const std::string& name) {
  fail("dataset '" + name + "'", "unknown, expected mnist or fashion-mnist");
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
  return {load_fashion_part(dir, "train"), load_fashion_part(dir, "t10k")};
}

std::filesystem::path default_data_dir() {
  if (const char* env = std::getenv("STERN_DATA_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  if (has_mnist("data")) return std::filesystem::absolute("data");
  return STERN_DEFAULT_DATA_DIR;
}

DatasetSplit load_dataset(const std::string& name) {
  if (name == "mnist") return load_mnist_json(default_data_dir() / "mnist" / "digits");
  if (name == "fashion-mnist") return load_fashion_mnist(fashion_mnist_dir());
  unknown_dataset(name);
}

Dataset load_test_split(const std::string& name) {
  if (name == "fashion-mnist") return load_fashion_part(fashion_mnist_dir(), "t10k");
  if (name == "mnist") return load_dataset(name).test;
  unknown_dataset(name);
}

}  // namespace stern
