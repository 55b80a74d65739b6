#include "stern/cpu_features.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <thread>

namespace stern {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  f.cores = std::max(1u, std::thread::hardware_concurrency());
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & bit_OSXSAVE, fma = c & bit_FMA, popcnt = c & bit_POPCNT;
  if (!osxsave) return f;
  const uint64_t xcr0 = xgetbv0();
  const bool ymm_state = (xcr0 & 0x6) == 0x6, zmm_state = (xcr0 & 0xE6) == 0xE6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_state && fma && popcnt && (b & bit_AVX2) && (b & bit_BMI2);
  f.avx512 = f.avx2 && zmm_state && (b & bit_AVX512F) && (b & bit_AVX512BW) &&
             (b & bit_AVX512VL) && (b & bit_AVX512DQ);
  f.avx512_vnni = f.avx512 && (c & bit_AVX512VNNI);
  f.avx512_vpopcntdq = f.avx512 && (c & bit_AVX512VPOPCNTDQ);
  f.avx512_vbmi = f.avx512 && (c & bit_AVX512VBMI);

  if (const char* cap = std::getenv("STERN_ISA")) {
    const Isa limit = !std::strcmp(cap, "scalar") ? Isa::scalar
                      : !std::strcmp(cap, "avx2") ? Isa::avx2
                      : !std::strcmp(cap, "avx512") ? Isa::avx512
                                                    : Isa::avx512_vnni;
    if (limit < Isa::avx512_vnni) f.avx512_vnni = false;
    if (limit < Isa::avx512) f.avx512 = f.avx512_vpopcntdq = f.avx512_vbmi = false;
    if (limit < Isa::avx2) f.avx2 = false;
  }
  return f;
}

}  // namespace

bool CpuFeatures::supports(Isa isa) const {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
    case Isa::avx512_vnni: return avx512_vnni;
  }
  return false;
}

Isa CpuFeatures::best() const {
  return avx512_vnni ? Isa::avx512_vnni : avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::scalar;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* isa_name(Isa isa) {
  static const char* const names[kIsaCount] = {"scalar", "avx2", "avx512", "avx512_vnni"};
  return names[static_cast<int>(isa)];
}

}  // namespace stern
