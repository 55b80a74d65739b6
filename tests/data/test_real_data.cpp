// The real datasets, when installed (scripts/setup.sh installs both): counts, label
// histograms and pixels checked against Python reading the same files independently, and
// the MNIST split's properties.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <string_view>

#include "data/test_files.h"
#include "stern/dataset.h"

namespace stern {
namespace {

using testing::run_command;

const std::filesystem::path kFashionDir = "/usr/share/datasets/fashion-mnist";

std::vector<int64_t> histogram(const Dataset& ds) {
  std::vector<int64_t> h(10, 0);
  for (uint8_t l : ds.labels) ++h[l];
  return h;
}

std::filesystem::path mnist_dir() { return default_data_dir() / "mnist" / "digits"; }

// Python's view of a file: stdout of `code` with the path as sys.argv[1]; empty if python3
// is missing.
std::string python(const std::string& code, const std::filesystem::path& arg) {
  return run_command("/usr/bin/python3 -c '" + code + "' '" + arg.string() + "' 2>/dev/null");
}

TEST(RealData, FashionMnist) {
  if (!std::filesystem::exists(kFashionDir / "t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  const DatasetSplit split = load_dataset("fashion-mnist");
  EXPECT_EQ(split.train.count, 60000);
  EXPECT_EQ(split.test.count, 10000);
  EXPECT_EQ(split.train.name, "fashion-mnist");
  EXPECT_EQ(split.test.image_size(), 784);
  // Fashion-MNIST is balanced by construction.
  EXPECT_EQ(histogram(split.train), std::vector<int64_t>(10, 6000));
  EXPECT_EQ(histogram(split.test), std::vector<int64_t>(10, 1000));
  const Dataset test_only = load_test_split("fashion-mnist");
  EXPECT_EQ(test_only.images, split.test.images);
  EXPECT_EQ(test_only.labels, split.test.labels);
  const auto [lo, hi] = std::minmax_element(split.test.images.begin(), split.test.images.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);

  // Independent decoding of the last test image and the first labels with Python's gzip.
  const std::string out = python(
      "import gzip,sys; d=gzip.open(sys.argv[1]).read(); img=d[16+9999*784:16+10000*784];"
      " print(sum(img), img[400])", kFashionDir / "t10k-images-idx3-ubyte.gz");
  if (out.empty()) GTEST_SKIP() << "/usr/bin/python3 not available for the cross-check";
  std::istringstream in(out);
  int64_t sum = 0, pixel400 = 0;
  in >> sum >> pixel400;
  double ours = 0;
  for (int i = 0; i < 784; ++i) ours += split.test.images[9999 * 784 + i] * 255.0;
  EXPECT_NEAR(ours, static_cast<double>(sum), 1e-2);
  EXPECT_FLOAT_EQ(split.test.images[9999 * 784 + 400], pixel400 / 255.0f);
  const std::string labels = python(
      "import gzip,sys; d=gzip.open(sys.argv[1]).read(); print(\"\".join(str(b) for b in d[8:28]))",
      kFashionDir / "train-labels-idx1-ubyte.gz");
  std::string ours_labels;
  for (int i = 0; i < 20; ++i) ours_labels += std::to_string(split.train.labels[i]);
  EXPECT_EQ(labels, ours_labels + "\n");
}

// Hash of an image's bytes: the MNIST digits are distinct images, so the split can be
// checked for overlap by content.
uint64_t image_hash(const Dataset& ds, int64_t i) {
  const auto* p = reinterpret_cast<const char*>(ds.images.data() + i * ds.image_size());
  return std::hash<std::string_view>{}(std::string_view(p, ds.image_size() * sizeof(float)));
}

TEST(RealData, UnknownName) {
  EXPECT_THAT(testing::error_of([] { load_dataset("cifar10"); }),
              ::testing::HasSubstr("dataset 'cifar10': unknown, expected mnist or fashion-mnist"));
  EXPECT_THAT(testing::error_of([] { load_test_split("mnist-fashion"); }),
              ::testing::HasSubstr("unknown, expected mnist or fashion-mnist"));
}

TEST(RealData, MnistSplit) {
  if (!std::filesystem::exists(mnist_dir() / "9.json")) {
    GTEST_SKIP() << "MNIST JSON digits not found in " << mnist_dir() << " (run scripts/setup.sh)";
  }
  const DatasetSplit a = load_dataset("mnist");
  ASSERT_EQ(a.train.count, 8000);
  ASSERT_EQ(a.test.count, 2000);

  // Label counts of train + test equal the digit files' sample counts, as Python counts them.
  const auto train_h = histogram(a.train), test_h = histogram(a.test);
  std::string ours;
  for (int d = 0; d < 10; ++d) ours += std::to_string(train_h[d] + test_h[d]) + " ";
  const std::string theirs = python(
      "import json,sys; print(\" \".join(str(len(json.load(open(f\"{sys.argv[1]}/{d}.json\"))"
      "[\"data\"])//784) for d in range(10)), end=\" \\n\")", mnist_dir());
  if (!theirs.empty()) {
    EXPECT_EQ(ours + "\n", theirs);
  }
  EXPECT_EQ(std::accumulate(train_h.begin(), train_h.end(), int64_t{0}), 8000);
  for (int d = 0; d < 10; ++d) EXPECT_GT(test_h[d], 100) << "digit " << d << " nearly absent from test";

  // No image in both halves, and together they are the 10,000 distinct digits.
  std::set<uint64_t> train_set, test_set;
  for (int64_t i = 0; i < a.train.count; ++i) train_set.insert(image_hash(a.train, i));
  for (int64_t i = 0; i < a.test.count; ++i) test_set.insert(image_hash(a.test, i));
  std::vector<uint64_t> both;
  std::set_intersection(train_set.begin(), train_set.end(), test_set.begin(), test_set.end(),
                        std::back_inserter(both));
  EXPECT_TRUE(both.empty()) << both.size() << " images in both train and test";
  EXPECT_GE(train_set.size() + test_set.size(), 9990u);  // a handful of duplicate digits at most

  // Deterministic for a seed (the default seed is 2017), different for another seed.
  const DatasetSplit again = load_mnist_json(mnist_dir(), 2017, 8000);
  EXPECT_EQ(again.test.images, a.test.images);
  EXPECT_EQ(again.train.labels, a.train.labels);
  const DatasetSplit other = load_mnist_json(mnist_dir(), 1, 8000);
  EXPECT_NE(other.test.images, a.test.images);
  std::set<uint64_t> other_test;
  for (int64_t i = 0; i < other.test.count; ++i) other_test.insert(image_hash(other.test, i));
  std::vector<uint64_t> shared;
  std::set_intersection(test_set.begin(), test_set.end(), other_test.begin(), other_test.end(),
                        std::back_inserter(shared));
  // Two random 20% test sets share about 20% of their images, not all of them.
  EXPECT_LT(shared.size(), 800u);
}

}  // namespace
}  // namespace stern
