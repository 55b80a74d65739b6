// The .sternz archive (docs/COMPRESSION.md): a model entropy-coded for storage and transfer.
// Quantized weight codes go through a per-layer rANS coder, scales and float tensors through
// zstd after a byte-plane split, the graph through zstd. Everything is checksummed; loading
// decodes once, back to exactly the payloads of the .stern the archive was made from.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

// How one tensor was stored, for `stern compress` and the reports.
struct ArchiveTensorStats {
  std::string name;
  std::string encoding;          // encoding_traits(e).name
  std::string method;            // "rans" (quantized codes), "zstd_floats", "zstd_raw"
  int64_t weights = 0;           // elements
  int64_t payload_bytes = 0;     // size in the .stern container
  int64_t coded_bytes = 0;       // rANS stream, or this tensor's share of a zstd stream
  int64_t scale_floats = 0;      // scales kept beside the codes (coded with the floats)
  double entropy_bits = 0;       // weights * zeroth-order empirical entropy of the codes
  // Conditional empirical entropies (table costs excluded) of the codes given a context the
  // coder could use: the previous code in the row, the row (filter), and the kernel position
  // (conv only; equals entropy_bits for linear). They measure whether a context would pay.
  double entropy_given_previous_bits = 0;
  double entropy_given_row_bits = 0;
  double entropy_given_kernel_position_bits = 0;
  int64_t table_bytes = 0;       // frequency tables as serialized in the header (before zstd)
  int tables = 0;                // rANS frequency tables: 1, or 2-16 chosen per row (filter)
};

struct ArchiveStats {
  int64_t archive_bytes = 0;
  int64_t header_bytes = 0;  // zstd-compressed graph and tables
  int64_t float_stream_bytes = 0;
  std::vector<ArchiveTensorStats> tensors;
};

// Serializes `graph` (validated first) to archive bytes. `stats` (optional) receives per
// tensor figures.
std::vector<uint8_t> compress_model(const Graph& graph, ArchiveStats* stats = nullptr);

// compress_model + write_file_atomic.
void save_archive(const Graph& graph, const std::filesystem::path& path, ArchiveStats* stats = nullptr);

// Reads, checks every checksum and bound, decodes and validates. Tensors come back in their
// stored encodings with payloads byte-identical to the original container's. Throws
// stern::Error with one line naming the file and the field on any corruption or truncation.
Graph load_archive(const std::filesystem::path& path);
Graph load_archive_from_memory(std::span<const uint8_t> bytes, const std::string& name);

// True when `bytes` start with the archive magic (how open_model tells the formats apart).
bool is_archive(std::span<const uint8_t> bytes);

}  // namespace stern
