#include "stern/cpu_features.h"

#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "kernels/vnni_throughput.h"

namespace stern {
namespace {

uint64_t xgetbv0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

// Linux keeps the 8 KiB of AMX tile data out of a process's state until the process asks
// for it (a tile instruction before that faults): ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA,
// once, for every thread of the process.
bool request_amx_permission() {
  constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
}

Isa isa_cap() {
  const char* cap = std::getenv("STERN_ISA");
  if (!cap) return Isa::amx;
  return !std::strcmp(cap, "scalar")        ? Isa::scalar
         : !std::strcmp(cap, "avx2")        ? Isa::avx2
         : !std::strcmp(cap, "avx512")      ? Isa::avx512
         : !std::strcmp(cap, "avx512_vnni") ? Isa::avx512_vnni
                                            : Isa::amx;
}

CpuFeatures detect() {
  CpuFeatures f;
  f.cores = std::max(1u, std::thread::hardware_concurrency());
  for (int level : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE})
    if (const long bytes = sysconf(level); bytes > 0) {
      f.llc_bytes = bytes;
      break;
    }
  if (const long bytes = sysconf(_SC_LEVEL1_DCACHE_SIZE); bytes > 0) f.l1d_bytes = bytes;
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
  // CPUID.(7,0):EDX bit 24 AMX-TILE, bit 25 AMX-INT8; XCR0 bits 17, 18 the tile state.
  const bool amx_cpu = (d >> 24 & 1) && (d >> 25 & 1) && (xcr0 >> 17 & 3) == 3;

  const Isa limit = isa_cap();
  // Asked only when it may be used: the permission enlarges every signal frame.
  f.amx_int8 = f.avx512_vnni && amx_cpu && limit >= Isa::amx && request_amx_permission();
  if (limit < Isa::avx512_vnni) f.avx512_vnni = false;
  if (f.avx512_vnni) {
    const char* dual = std::getenv("STERN_VNNI_DUAL");
    const bool forced = dual && (!std::strcmp(dual, "0") || !std::strcmp(dual, "1"));
    // Detection has no caller to throw to: a value it cannot read is said once and measured.
    if (dual && !forced)
      std::fprintf(stderr, "stern: STERN_VNNI_DUAL=%s ignored: expected 0 or 1; the VNNI ports are timed\n", dual);
    // Ice Lake server (two ports) measures 1.33 (its multiplies run at a lower clock than its
    // adds); one port makes it 2 or more.
    f.vnni_dual = forced ? *dual == '1' : kernels::vnni_dot_to_add_time() < 1.65;
  }
  if (limit < Isa::avx512) f.avx512 = f.avx512_vpopcntdq = f.avx512_vbmi = false;
  if (limit < Isa::avx2) f.avx2 = false;
  return f;
}

}  // namespace

bool CpuFeatures::supports(Isa isa) const {
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
    case Isa::avx512_vnni: return avx512_vnni;
    case Isa::amx: return amx_int8;
  }
  return false;
}

Isa CpuFeatures::best() const {
  return amx_int8      ? Isa::amx
         : avx512_vnni ? Isa::avx512_vnni
         : avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::scalar;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

const char* isa_name(Isa isa) {
  static const char* const names[kIsaCount] = {"scalar", "avx2", "avx512", "avx512_vnni", "amx"};
  return names[static_cast<int>(isa)];
}

}  // namespace stern
