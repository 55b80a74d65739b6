// One traits entry per encoding, each defined in its own file (<encoding>.cpp).
#pragma once
#include "stern/encoding.h"

namespace stern {

const EncodingTraits& f32_traits();
const EncodingTraits& i8_traits();
const EncodingTraits& ternary2_traits();
const EncodingTraits& ternary_sparse_traits();
const EncodingTraits& signed_binary_traits();
const EncodingTraits& binary_traits();

namespace encoding_detail {
float dot_ref(const WeightMatrix& m, int64_t r, const float* x);
}

}  // namespace stern
