// The .stern container (docs/FORMAT.md): magic, version, header with the graph, tensor
// table, per-tensor checksums and 64-byte aligned payloads usable in place from mmap.
#pragma once
#include <filesystem>
#include <span>
#include <string>

#include "stern/graph.h"

namespace stern {

inline constexpr uint32_t kFormatVersion = 1;

// Writes to a temporary file beside `path`, fsyncs, and renames over `path`: a failed write
// leaves any previous file intact.
void save_model(const Graph& graph, const std::filesystem::path& path);

// Maps the file and validates everything before returning: magic, version, checksums, every
// offset and size against the file size, shapes against each operator. Throws stern::Error
// with a one-line message naming the file and the field.
Graph load_model(const std::filesystem::path& path);

// The same validation over bytes in memory (the fuzzer's entry point). `name` is used in
// error messages. The returned graph copies nothing: it keeps `owner` alive.
Graph load_model_from_memory(std::span<const uint8_t> bytes, const std::string& name,
                             std::shared_ptr<const void> owner = nullptr);

// Serializes to bytes (what save_model writes).
std::vector<uint8_t> serialize_model(const Graph& graph);

// Structural checks shared by the reader, importers and the runtime: every node input is
// defined before use, every tensor's payload decodes for its shape, and shapes agree with
// each operator. Throws stern::Error prefixed with `where`.
void validate_graph(const Graph& graph, const std::string& where);

// Atomic file write used by every writer in stern (models, checkpoints, archives, reports).
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

}  // namespace stern
