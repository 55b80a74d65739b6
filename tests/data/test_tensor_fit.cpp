// reshape_for_input and argmax_rows: the glue between tensor files, datasets and a model's
// input and output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/test_files.h"
#include "stern/tensor_io.h"

namespace stern {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::error_of;

FloatTensor ramp(std::vector<int64_t> shape) {
  FloatTensor t;
  t.shape = std::move(shape);
  int64_t n = 1;
  for (int64_t d : t.shape) n *= d;
  for (int64_t i = 0; i < n; ++i) t.data.push_back(static_cast<float>(i));
  return t;
}

TEST(ReshapeForInput, KeepsAMatchingTensor) {
  const ValueInfo input{"x", {-1, 1, 4, 4}};
  const FloatTensor t = reshape_for_input(ramp({3, 1, 4, 4}), input, "t");
  EXPECT_EQ(t.shape, std::vector<int64_t>({3, 1, 4, 4}));
  EXPECT_EQ(t.data, ramp({48}).data);
}

TEST(ReshapeForInput, FlattensSamplesAndAddsABatch) {
  const ValueInfo flat{"x", {-1, 16}};
  FloatTensor t = reshape_for_input(ramp({2, 1, 4, 4}), flat, "t");
  EXPECT_EQ(t.shape, std::vector<int64_t>({2, 16}));
  EXPECT_EQ(t.data, ramp({32}).data);
  EXPECT_EQ(reshape_for_input(ramp({16}), flat, "t").shape, std::vector<int64_t>({1, 16}));
  const ValueInfo image{"x", {-1, 1, 4, 4}};
  EXPECT_EQ(reshape_for_input(ramp({1, 4, 4}), image, "t").shape, std::vector<int64_t>({1, 1, 4, 4}));
  EXPECT_EQ(reshape_for_input(ramp({5, 16}), image, "t").shape, std::vector<int64_t>({5, 1, 4, 4}));
}

TEST(ReshapeForInput, RejectsWhatDoesNotFit) {
  const ValueInfo flat{"x", {-1, 16}};
  EXPECT_THAT(error_of([&] { reshape_for_input(ramp({3, 10}), flat, "in.npy"); }),
              AllOf(HasSubstr("in.npy"), HasSubstr("tensor of shape [3, 10] does not fit model input 'x' of shape [-1, 16]")));
  const ValueInfo fixed{"x", {1, 16}};
  EXPECT_THAT(error_of([&] { reshape_for_input(ramp({2, 16}), fixed, "in.npy"); }),
              HasSubstr("does not fit model input 'x' of shape [1, 16]"));
  FloatTensor short_data = ramp({2, 16});
  short_data.data.pop_back();
  EXPECT_THAT(error_of([&] { reshape_for_input(short_data, flat, "in.npy"); }),
              HasSubstr("shape [2, 16] holds 32 values but the tensor has 31"));
}

TEST(ArgmaxRows, FirstLargestPerRow) {
  FloatTensor t{{3, 3}, {1, 3, 3, 5, 0, -1, -2, -1, -1}};
  EXPECT_EQ(argmax_rows(t), std::vector<int64_t>({1, 0, 1}));
  EXPECT_EQ(argmax_rows(FloatTensor{{4}, {0, 2, 9, 1}}), std::vector<int64_t>({2}));
  EXPECT_EQ(argmax_rows(FloatTensor{{2, 1, 2}, {0, 1, 1, 0}}), std::vector<int64_t>({1, 0}));
  EXPECT_TRUE(argmax_rows(FloatTensor{{0, 10}, {}}).empty());
}

}  // namespace
}  // namespace stern
