# ISA flags are set per source file so that the rest of the build stays portable: only the
# kernel files named here may contain AVX2 / AVX-512 instructions, and they are reached only
# through the run-time dispatch table in src/kernels/dispatch.cpp.
set(STERN_AVX2_FLAGS -mavx2 -mfma -mbmi2 -mpopcnt -mf16c)
set(STERN_AVX512_FLAGS -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512vpopcntdq
    -mavx2 -mfma -mbmi2 -mpopcnt)
# GCC 12's AVX-512 headers seed results with _mm512_undefined_*() and then warn about it
# (GCC bug 105593, fixed in 13): silence only that false positive, only in kernel files.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  list(APPEND STERN_AVX512_FLAGS -Wno-uninitialized -Wno-maybe-uninitialized)
endif()
# Byte permutes (VPERMB / VPERMI2B) are not implied by the set above (Cascade Lake lacks
# them), so only files named __avx512vbmi get them; dispatch checks avx512_vbmi.
set(STERN_AVX512VBMI_FLAGS ${STERN_AVX512_FLAGS} -mavx512vbmi)
# AMX tile instructions (TILELOADD, TDPBUSD, ...) only: files named __amx; dispatch checks
# amx_int8, which Linux also has to permit (cpu_features.cpp).
set(STERN_AMX_FLAGS -mamx-tile -mamx-int8)

function(stern_isa_sources isa)
  if(isa STREQUAL "avx2")
    set(flags ${STERN_AVX2_FLAGS})
  elseif(isa STREQUAL "avx512")
    set(flags ${STERN_AVX512_FLAGS})
  elseif(isa STREQUAL "avx512vbmi")
    set(flags ${STERN_AVX512VBMI_FLAGS})
  elseif(isa STREQUAL "amx")
    set(flags ${STERN_AMX_FLAGS})
  else()
    message(FATAL_ERROR "unknown ISA ${isa}")
  endif()
  # TARGET_DIRECTORY: stern_runtime is created in src/, and source properties set in a
  # subdirectory are otherwise invisible to it.
  set_source_files_properties(${ARGN} TARGET_DIRECTORY stern_runtime
                              PROPERTIES COMPILE_OPTIONS "${flags}")
endfunction()
