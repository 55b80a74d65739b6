// Timed once by cpu_features() on CPUs with AVX-512 VNNI (probe/vnni_throughput__avx512vnni.cpp).
#pragma once

namespace stern::kernels {

// The time of a run of independent VPDPBUSD zmm over that of as many 512-bit adds: 1 to 1.4
// where the core issues two VPDPBUSD per cycle (Ice Lake server: 1.33), 2 or more where it
// issues one. About 150 us.
double vnni_dot_to_add_time();

}  // namespace stern::kernels
