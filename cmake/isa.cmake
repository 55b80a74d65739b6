# ISA flags are set per source file so that the rest of the build stays portable: only the
# kernel files named here may contain AVX2 / AVX-512 instructions, and they are reached only
# through the run-time dispatch table in src/kernels/dispatch.cpp.
set(STERN_AVX2_FLAGS -mavx2 -mfma -mbmi2 -mpopcnt -mf16c)
set(STERN_AVX512_FLAGS -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512vpopcntdq
    -mavx2 -mfma -mbmi2 -mpopcnt)

function(stern_isa_sources isa)
  if(isa STREQUAL "avx2")
    set(flags ${STERN_AVX2_FLAGS})
  elseif(isa STREQUAL "avx512")
    set(flags ${STERN_AVX512_FLAGS})
  else()
    message(FATAL_ERROR "unknown ISA ${isa}")
  endif()
  # TARGET_DIRECTORY: stern_runtime is created in src/, and source properties set in a
  # subdirectory are otherwise invisible to it.
  set_source_files_properties(${ARGN} TARGET_DIRECTORY stern_runtime
                              PROPERTIES COMPILE_OPTIONS "${flags}")
endfunction()
