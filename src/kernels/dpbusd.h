// VPDPBUSD on 512-bit accumulators in place, for the VNNI micro-kernels (files built with
// -mavx512vnni only). GCC 12 copied the accumulator of _mm512_dpbusd_epi32 to another register
// and back around each instruction, and spilled some to the stack, when the accumulators
// were more than a few: in the dense ternary GEMV 2.4x the instructions of its loop and 1.34x
// its time. The inline asm ties the accumulator to its register.
#pragma once
#include <immintrin.h>

namespace stern::kernels {

// acc += sum over each 4-byte group of u8[j] * s8[j] (unsigned by signed bytes, int32 lanes).
inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
}

}  // namespace stern::kernels
