// The corruption corpus: distinct ways a valid .stern file can be broken, each with the part
// of the error message that shows it was caught for the intended reason. Used by the
// corruption tests (in-process and through the `stern info` CLI) and as the fuzzer's seeds.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace stern::test {

struct Corruption {
  std::string name;    // file stem, unique
  std::vector<uint8_t> bytes;
  std::string expect;  // substring of the expected error message
};

// serialize_model(every_op_graph()).
std::vector<uint8_t> valid_model_bytes();

std::vector<Corruption> corruption_corpus();

}  // namespace stern::test
