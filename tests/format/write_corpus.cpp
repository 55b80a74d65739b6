// stern_format_corpus DIR: writes valid.stern and every corruption of the corpus into DIR,
// the seed corpus of the reader's fuzzer.
#include <cstdio>
#include <filesystem>

#include "format/corpus.h"
#include "stern/error.h"
#include "stern/format.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    stern::write_file_atomic(dir / "valid.stern", stern::test::valid_model_bytes());
    for (const auto& c : stern::test::corruption_corpus()) stern::write_file_atomic(dir / (c.name + ".stern"), c.bytes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stern_format_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
