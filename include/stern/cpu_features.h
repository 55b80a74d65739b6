// CPU feature detection, done once. Kernel selection asks only this; no other file tests
// the CPU or contains ISA #ifdefs in function bodies.
#pragma once
#include <cstdint>
#include <string>

namespace stern {

// amx: AMX-TILE + AMX-INT8 tile matrix multiply (Sapphire Rapids and later), on top of
// avx512_vnni.
enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2, avx512_vnni = 3, amx = 4 };
inline constexpr int kIsaCount = 5;

struct CpuFeatures {
  bool avx2 = false;         // AVX2 + FMA + BMI2 + POPCNT
  bool avx512 = false;       // AVX-512 F, BW, VL, DQ
  bool avx512_vnni = false;  // VPDPBUSD
  bool avx512_vpopcntdq = false;
  bool avx512_vbmi = false;  // VPERMB / VPERMI2B (byte permutes across a zmm)
  bool amx_int8 = false;     // AMX-TILE + AMX-INT8, tile state enabled and permitted (Isa::amx)
  // Two VPDPBUSD zmm per cycle (Xeons with two 512-bit FMA units, e.g. Ice Lake-SP), timed
  // against plain adds when detected (kernels/vnni_throughput.h); Zen 4 and cores with one
  // 512-bit FMA unit issue one. STERN_VNNI_DUAL=0 or 1 overrides the measurement.
  bool vnni_dual = false;
  int cores = 1;
  // Last-level cache as the OS reports it (8 MiB when it does not): weights beyond it stream
  // from DRAM, which the kernel choice prices differently.
  int64_t llc_bytes = int64_t(8) << 20;
  // L1 data cache of one core as the OS reports it (32 KiB when it does not).
  int64_t l1d_bytes = int64_t(32) << 10;

  bool supports(Isa isa) const;
  Isa best() const;
};

// Detected once; STERN_ISA=scalar|avx2|avx512|avx512_vnni|amx caps the result (for testing and
// for comparing ISAs on one machine; any other value caps nothing).
const CpuFeatures& cpu_features();
const char* isa_name(Isa isa);

}  // namespace stern
