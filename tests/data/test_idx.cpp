// IDX reader: valid files (gzipped and raw) and one test per kind of corruption, on small
// files each test writes itself.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/test_files.h"
#include "stern/dataset.h"

namespace stern {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;
using testing::gzip_bytes;
using testing::ScratchDir;
using testing::write_bytes;

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

// Pixel (i, y, x) = (7 * i + 3 * y + x) % 256: every position distinguishable.
std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
  std::vector<uint8_t> out = {0, 0, 0x08, 3};
  put_be32(out, count);
  put_be32(out, rows);
  put_be32(out, cols);
  for (uint32_t i = 0; i < count; ++i)
    for (uint32_t y = 0; y < rows; ++y)
      for (uint32_t x = 0; x < cols; ++x) out.push_back(static_cast<uint8_t>((7 * i + 3 * y + x) % 256));
  return out;
}

std::vector<uint8_t> idx_labels(const std::vector<uint8_t>& labels) {
  std::vector<uint8_t> out = {0, 0, 0x08, 1};
  put_be32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

class IdxTest : public ::testing::Test {
 protected:
  // Writes images/labels (gzipped) and returns the loader's error message.
  std::string load_error(const std::vector<uint8_t>& images, const std::vector<uint8_t>& labels) {
    write_bytes(images_path(), gzip_bytes(images));
    write_bytes(labels_path(), gzip_bytes(labels));
    return error_of([&] { load_idx(images_path(), labels_path(), "test"); });
  }
  std::filesystem::path images_path() const { return dir_ / "images-idx3-ubyte.gz"; }
  std::filesystem::path labels_path() const { return dir_ / "labels-idx1-ubyte.gz"; }

  ScratchDir dir_;
  const std::vector<uint8_t> labels_ = {3, 1, 4, 1, 5};
};

void expect_pattern(const Dataset& ds, const std::vector<uint8_t>& labels) {
  ASSERT_EQ(ds.count, 5);
  EXPECT_EQ(ds.channels, 1);
  EXPECT_EQ(ds.height, 4);
  EXPECT_EQ(ds.width, 6);
  EXPECT_EQ(ds.labels, labels);
  ASSERT_EQ(ds.images.size(), 5u * 4 * 6);
  for (int i = 0; i < 5; ++i)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 6; ++x)
        EXPECT_FLOAT_EQ(ds.images[(i * 4 + y) * 6 + x], ((7 * i + 3 * y + x) % 256) / 255.0f);
}

TEST_F(IdxTest, ReadsGzippedFiles) {
  write_bytes(images_path(), gzip_bytes(idx_images(5, 4, 6)));
  write_bytes(labels_path(), gzip_bytes(idx_labels(labels_)));
  const Dataset ds = load_idx(images_path(), labels_path(), "tiny");
  EXPECT_EQ(ds.name, "tiny");
  expect_pattern(ds, labels_);
}

TEST_F(IdxTest, ReadsRawFiles) {
  write_bytes(dir_ / "images", idx_images(5, 4, 6));
  write_bytes(dir_ / "labels", idx_labels(labels_));
  expect_pattern(load_idx(dir_ / "images", dir_ / "labels", "raw"), labels_);
}

TEST_F(IdxTest, HeadTakesThePrefix) {
  write_bytes(images_path(), gzip_bytes(idx_images(5, 4, 6)));
  write_bytes(labels_path(), gzip_bytes(idx_labels(labels_)));
  const Dataset ds = load_idx(images_path(), labels_path(), "tiny");
  const Dataset two = ds.head(2);
  EXPECT_EQ(two.count, 2);
  EXPECT_EQ(two.labels, std::vector<uint8_t>({3, 1}));
  EXPECT_EQ(two.images, std::vector<float>(ds.images.begin(), ds.images.begin() + 2 * 24));
  EXPECT_EQ(ds.head(99).count, 5);
  EXPECT_THAT(error_of([&] { ds.head(-1); }), HasSubstr("expected n >= 0"));
}

TEST_F(IdxTest, MissingFile) {
  write_bytes(labels_path(), gzip_bytes(idx_labels(labels_)));
  EXPECT_THAT(error_of([&] { load_idx(images_path(), labels_path(), "test"); }),
              AllOf(HasSubstr(images_path().string()), HasSubstr("file not found")));
}

TEST_F(IdxTest, TruncatedPayload) {
  auto images = idx_images(5, 4, 6);
  images.resize(images.size() - 10);
  EXPECT_THAT(load_error(images, idx_labels(labels_)),
              AllOf(HasSubstr(images_path().string()), HasSubstr("truncated"),
                    HasSubstr("declares 5 items (120 bytes) but only 110 bytes")));
}

TEST_F(IdxTest, TruncatedHeader) {
  auto images = idx_images(5, 4, 6);
  images.resize(9);
  EXPECT_THAT(load_error(images, idx_labels(labels_)),
              AllOf(HasSubstr(images_path().string()), HasSubstr("truncated header: 9 bytes, expected 16")));
}

TEST_F(IdxTest, TruncatedGzipStream) {
  auto gz = gzip_bytes(idx_images(50, 28, 28));
  gz.resize(gz.size() / 2);
  write_bytes(images_path(), gz);
  write_bytes(labels_path(), gzip_bytes(idx_labels(std::vector<uint8_t>(50, 1))));
  EXPECT_THAT(error_of([&] { load_idx(images_path(), labels_path(), "test"); }),
              AllOf(HasSubstr(images_path().string()), HasSubstr("truncated gzip stream")));
}

TEST_F(IdxTest, WrongMagic) {
  // A labels file where the images should be: the rank byte differs.
  EXPECT_THAT(load_error(idx_labels(labels_), idx_labels(labels_)),
              AllOf(HasSubstr(images_path().string()),
                    HasSubstr("wrong magic 0x00000801, expected 0x00000803")));
  auto images = idx_images(5, 4, 6);
  images[2] = 0x0D;  // IDX float type
  EXPECT_THAT(load_error(images, idx_labels(labels_)), HasSubstr("wrong magic 0x00000d03"));
}

TEST_F(IdxTest, HeaderCountDisagreesWithBytes) {
  auto labels = idx_labels(labels_);
  labels.push_back(2);  // one label more than the header declares
  EXPECT_THAT(load_error(idx_images(5, 4, 6), labels),
              AllOf(HasSubstr(labels_path().string()), HasSubstr("count mismatch"),
                    HasSubstr("declares 5 items (5 bytes) but 6 bytes follow")));
}

TEST_F(IdxTest, ImageAndLabelCountsDiffer) {
  EXPECT_THAT(load_error(idx_images(5, 4, 6), idx_labels({1, 2, 3, 4})),
              AllOf(HasSubstr(labels_path().string()), HasSubstr(images_path().string()),
                    HasSubstr("count mismatch: 4 labels but"), HasSubstr("holds 5 images")));
}

TEST_F(IdxTest, DimensionOutOfRange) {
  EXPECT_THAT(load_error(idx_images(5, 0, 6), idx_labels(labels_)),
              AllOf(HasSubstr(images_path().string()), HasSubstr("dimension 1 is 0, expected 1..4096")));
  auto huge = idx_images(0, 1, 1);
  huge[15] = 0;
  huge[13] = 1;  // cols = 65536
  EXPECT_THAT(load_error(huge, idx_labels({})), HasSubstr("dimension 2 is 65536"));
}

TEST_F(IdxTest, LabelOutOfRange) {
  EXPECT_THAT(load_error(idx_images(5, 4, 6), idx_labels({3, 1, 10, 1, 5})),
              AllOf(HasSubstr(labels_path().string()),
                    HasSubstr("label 10 of item 2 is out of range, expected 0..9")));
}

// Every truncation of the images file, raw and gzipped, is an error naming it (and never a
// crash: this binary also runs under ASan/UBSan).
TEST_F(IdxTest, EveryTruncationIsAnError) {
  const auto images = idx_images(5, 2, 3);
  const auto gz = gzip_bytes(images);
  write_bytes(labels_path(), idx_labels(labels_));
  for (const auto* full : {&images, &gz}) {
    for (size_t n = 0; n < full->size(); ++n) {
      write_bytes(images_path(), std::vector<uint8_t>(full->begin(), full->begin() + n));
      EXPECT_THAT(error_of([&] { load_idx(images_path(), labels_path(), "test"); }),
                  HasSubstr(images_path().string()))
          << (full == &gz ? "gzip" : "raw") << " cut at " << n;
    }
  }
}

// load_fashion_mnist over a folder of files that are valid IDX but not 28x28.
TEST_F(IdxTest, FashionMnistDimensionMismatch) {
  for (const char* split : {"train", "t10k"}) {
    write_bytes(dir_ / (std::string(split) + "-images-idx3-ubyte.gz"), gzip_bytes(idx_images(5, 4, 6)));
    write_bytes(dir_ / (std::string(split) + "-labels-idx1-ubyte"), idx_labels(labels_));
  }
  EXPECT_THAT(error_of([&] { load_fashion_mnist(dir_.path()); }),
              AllOf(HasSubstr(dir_.path().string()),
                    HasSubstr("dimension mismatch: train images are 4x6, expected 28x28")));
}

TEST_F(IdxTest, FashionMnistMissingFolder) {
  EXPECT_THAT(error_of([&] { load_fashion_mnist(dir_ / "nowhere"); }),
              AllOf(HasSubstr("train-images-idx3-ubyte.gz"), HasSubstr("file not found"),
                    HasSubstr("dataset-fashion-mnist")));
}

}  // namespace
}  // namespace stern
