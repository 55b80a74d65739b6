// How many VPDPBUSD zmm a core issues per cycle, relative to a plain 512-bit add: Intel Xeons
// with two 512-bit FMA units (Ice Lake-SP; Gold 6xxx / Platinum since Skylake-SP) issue two
// of each per cycle; Zen 4, which splits 512-bit work over 256-bit units, and Intel cores
// with one 512-bit FMA unit issue one VPDPBUSD where they issue two adds. The model name
// does not tell them apart reliably, so it is timed. Which decides whether the int8 VNNI GEMM or the
// bitmap / lut kernels run signed-binary and binary convolutions faster (cpu_features.h
// vnni_dual). Timed with the TSC, the only clock a VM always has: only the ratio counts.
#include <x86intrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/in_place.h"
#include "kernels/vnni_throughput.h"

namespace stern::kernels {
namespace {

// Twelve independent chains: enough to cover VPDPBUSD's latency (4-5 cycles) at two a cycle.
constexpr int kChains = 12;

template <bool kDot>
uint64_t ticks(int iterations, uint32_t& sink) {
  __m512i acc[kChains];
  for (int i = 0; i < kChains; ++i) acc[i] = _mm512_set1_epi32(i);
  const __m512i u8 = _mm512_set1_epi8(1), s8 = _mm512_set1_epi8(2);
  const uint64_t t0 = __rdtsc();
  for (int n = 0; n < iterations; ++n)
    for (__m512i& a : acc) {
      if constexpr (kDot)
        dpbusd(a, u8, s8);
      else
        add_epi16(a, u8);
    }
  const uint64_t t1 = __rdtsc();
  __m512i sum = acc[0];
  for (int i = 1; i < kChains; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  sink += uint32_t(_mm512_reduce_add_epi32(sum));  // wraps: only kept alive
  return t1 - t0;
}

}  // namespace

double vnni_dot_to_add_time() {
  constexpr int kIterations = 1000, kRounds = 9;
  uint32_t sink = 0;
  // The first 512-bit multiplies run slowly while an Intel core changes its power license
  // (tens of microseconds): ~100 us of them first.
  ticks<true>(40 * kIterations, sink);
  uint64_t dot = UINT64_MAX, add = UINT64_MAX;
  for (int r = 0; r < kRounds; ++r) {  // minimum of each: a VM is interrupted now and then
    dot = std::min(dot, ticks<true>(kIterations, sink));
    add = std::min(add, ticks<false>(kIterations, sink));
  }
  asm volatile("" : : "r"(sink));
  return double(dot) / double(std::max<uint64_t>(1, add));
}

}  // namespace stern::kernels
