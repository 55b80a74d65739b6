// Overflow-checked size arithmetic for everything that multiplies or adds sizes read from
// untrusted input (shape products, offsets + sizes). Each helper throws stern::Error naming
// `where` instead of wrapping around.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "stern/error.h"

namespace stern {

// Largest element count of one tensor or value. 2^40 elements is far beyond any model stern
// targets yet keeps every byte count (elements * 8) well inside int64.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;

inline uint64_t checked_add(uint64_t a, uint64_t b, const std::string& where) {
  uint64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) fail(where, "size arithmetic overflows");
  return sum;
}

inline int64_t checked_mul(int64_t a, int64_t b, const std::string& where) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) fail(where, "size arithmetic overflows");
  return product;
}

// Product of dimensions that must all be >= 0, capped at kMaxElements.
inline int64_t checked_numel(const std::vector<int64_t>& shape, const std::string& where) {
  int64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) fail(where, "dimension " + std::to_string(d) + " is negative");
    n = checked_mul(n, d, where);
    if (n > kMaxElements) {
      fail(where, "more than " + std::to_string(kMaxElements) + " elements");
    }
  }
  return n;
}

}  // namespace stern
