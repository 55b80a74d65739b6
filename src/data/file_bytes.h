// Whole-file reads for the dataset and tensor readers: bounded by a named maximum so a
// corrupt or hostile file cannot make us allocate without limit.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace stern::data {

enum class Compression { none, gzip_or_raw };

// Reads all of `path`. With gzip_or_raw, a gzip stream is inflated through zlib (a file
// without the gzip magic is read as is); a truncated or corrupt stream throws. Throws
// stern::Error naming the file when it is missing, unreadable or larger than `max_bytes`
// (after inflation).
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path, uint64_t max_bytes,
                                     Compression compression);

}  // namespace stern::data
