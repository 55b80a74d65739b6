// libFuzzer target for the .stern reader. Checksums are not verified here so that mutated
// inputs reach the bounded parser, the layout checks, the encodings' unpack and
// validate_graph instead of stopping at the first CRC comparison. Anything other than a
// clean return or a stern::Error is a bug (sanitizers report the rest).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "format/container.h"
#include "stern/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    stern::format::load({data, size}, "fuzz.stern", nullptr, {.verify_checksums = false});
  } catch (const stern::Error&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
