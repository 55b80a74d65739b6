// Internals of the .stern container shared by the reader, the writer, the tests and the
// fuzzer. The byte layout is specified in docs/FORMAT.md; the constants here are the
// normative values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern::format {

// PNG-style magic: the high byte catches 7-bit transfers, CR LF catches newline conversion.
inline constexpr uint8_t kMagic[8] = {0x89, 'S', 'T', 'E', 'R', 'N', '\r', '\n'};
inline constexpr size_t kPreambleBytes = 64;
inline constexpr size_t kAlignment = 64;  // every tensor payload offset, and data_offset
inline constexpr size_t kHeaderCrcOffset = 60;

// Preamble field offsets (docs/FORMAT.md, "Preamble").
inline constexpr size_t kVersionOffset = 8;
inline constexpr size_t kFlagsOffset = 12;
inline constexpr size_t kHeaderBytesOffset = 16;
inline constexpr size_t kDataOffsetOffset = 24;
inline constexpr size_t kDataBytesOffset = 32;

// Named limits: anything beyond them is rejected before any allocation depends on it.
inline constexpr uint64_t kMaxHeaderBytes = uint64_t{64} << 20;
inline constexpr uint32_t kMaxTensors = 1u << 16;
inline constexpr uint32_t kMaxNodes = 1u << 16;
inline constexpr uint32_t kMaxGraphValues = 1024;  // graph inputs, and graph outputs
inline constexpr uint32_t kMaxRank = 8;
inline constexpr int64_t kMaxDim = (int64_t{1} << 31) - 1;
inline constexpr uint32_t kMaxNameBytes = 1024;     // tensor, node, value, attribute names
inline constexpr uint32_t kMaxStringBytes = 1u << 20;  // string attribute values
inline constexpr uint32_t kMaxNodeValues = 1024;    // inputs (or outputs) of one node
inline constexpr uint32_t kMaxAttributes = 256;     // per node, and in the metadata
inline constexpr uint32_t kMaxListElements = 1u << 16;

// Attribute value type tags, in AttrValue's variant order.
enum class AttrType : uint8_t { i64 = 0, f64 = 1, string = 2, i64_list = 3, f64_list = 4 };

// Serializes without validating the graph first: the tests use it to produce semantically
// broken files with correct checksums. serialize_model() validates, then calls this.
std::vector<uint8_t> serialize_unchecked(const Graph& graph);

struct LoadOptions {
  // Off only in the fuzzer, so mutated inputs reach the parser and validator behind the
  // checksums instead of stopping at the first CRC comparison.
  bool verify_checksums = true;
};

Graph load(std::span<const uint8_t> bytes, const std::string& name,
           std::shared_ptr<const void> owner, const LoadOptions& options);

uint32_t crc32_of(std::span<const uint8_t> bytes, uint32_t crc = 0);

// Names appear in one-line error messages and reports: control characters (a newline above
// all) are refused. Returns the offending byte's index, or -1.
inline int64_t find_control_char(const std::string& name) {
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c == 0x7f) return static_cast<int64_t>(i);
  }
  return -1;
}

inline uint64_t align_up(uint64_t x) { return (x + kAlignment - 1) / kAlignment * kAlignment; }

}  // namespace stern::format
