// Vector accumulators updated in place, for the AVX2 and AVX-512 micro-kernels. GCC 12 copied the
// accumulator of an intrinsic such as _mm512_dpbusd_epi32 or _mm512_add_epi16 to another
// register and back around each instruction (a move on a vector port, and a longer
// loop-carried chain), and spilled some to the stack when the accumulators were more than
// a few: in the dense ternary GEMV 2.4x the instructions of its loop and 1.34x its time; in
// a micro-benchmark of the sparse GEMM's walk 1.1-1.6x its time, by how GCC happened to
// allocate. The inline asm ties each accumulator to its register.
#pragma once
#include <immintrin.h>

namespace stern::kernels {

// 512-bit forms only where zmm registers exist: Clang checks the constraints of every inline
// function, used or not, and AVX2 files include this header too.
#ifdef __AVX512F__
// acc += sum over each 4-byte group of u8[j] * s8[j] (unsigned by signed bytes, int32 lanes;
// files built with -mavx512vnni only).
inline void dpbusd(__m512i& acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8));
}

// acc += x and acc -= x in wrapping int16 lanes.
inline void add_epi16(__m512i& acc, __m512i x) { asm("vpaddw %1, %0, %0" : "+v"(acc) : "v"(x)); }
inline void sub_epi16(__m512i& acc, __m512i x) { asm("vpsubw %1, %0, %0" : "+v"(acc) : "v"(x)); }
#endif

// The same on ymm (registers 0-15, as AVX2 files have).
inline void add_epi16(__m256i& acc, __m256i x) { asm("vpaddw %1, %0, %0" : "+x"(acc) : "x"(x)); }
inline void sub_epi16(__m256i& acc, __m256i x) { asm("vpsubw %1, %0, %0" : "+x"(acc) : "x"(x)); }

// The two as objects, for a walk that treats the +1 and the -1 entries alike.
inline constexpr auto kAddEpi16 = [](auto& acc, auto x) { add_epi16(acc, x); };
inline constexpr auto kSubEpi16 = [](auto& acc, auto x) { sub_epi16(acc, x); };

}  // namespace stern::kernels
