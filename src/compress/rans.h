// Static 4-way interleaved rANS over small integer alphabets (<= 256 symbols), the entropy
// coder of the .sternz archive (docs/COMPRESSION.md). One frequency table per stream, chosen
// from the stream's own counts, so a layer's coded size is within the table's quantization
// loss of its zeroth-order empirical entropy; the table travels in the archive header.
//
// State: 32 bits in [2^16, 2^32), renormalized 16 bits at a time (as in ryg_rans' word
// coder), probabilities quantized to kRansScaleBits. Four states decode independent symbols
// so the CPU overlaps their table lookups; one read pointer keeps the stream contiguous.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace stern::compress {

inline constexpr int kRansScaleBits = 15;
inline constexpr uint32_t kRansTotal = 1u << kRansScaleBits;
inline constexpr int kRansMaxSymbols = 256;

// Quantized frequencies of symbols 0..alphabet-1, summing to kRansTotal. A symbol that occurs
// gets at least 1; absent symbols get 0 (they cannot be coded).
std::vector<uint32_t> rans_normalize(std::span<const uint64_t> counts);

// Ideal cost in bits of coding symbols with these counts under frequencies `freq`.
double rans_cost_bits(std::span<const uint64_t> counts, std::span<const uint32_t> freq);

// Codes `symbols` (each < freq.size(), with freq[s] > 0) into little-endian 16-bit words.
// A stream whose alphabet has one used symbol codes to nothing.
std::vector<uint8_t> rans_encode(std::span<const uint8_t> symbols, std::span<const uint32_t> freq);

// Decodes exactly out.size() symbols, storing uint8(symbol + base) so callers can produce
// signed codes (base = min_code) without a second pass. Rejects, naming `where`, a frequency table that does
// not sum to kRansTotal, a stream that ends early or has bytes left over, and final states
// that differ from the encoder's initial state (which catches most corruption on its own).
void rans_decode(std::span<const uint8_t> stream, std::span<const uint32_t> freq,
                 std::span<uint8_t> out, uint8_t base, const std::string& where);

}  // namespace stern::compress
