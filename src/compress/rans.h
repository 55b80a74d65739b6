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

// How a stream is coded: the symbols form rows of `cols`, and each row is coded with one of
// the frequency tables (row_table[r]; empty = table 0 for every row). Several tables let a
// layer whose filters differ in sparsity pay each filter's own entropy. Alphabets of more
// than kRansMaxSmallAlphabet symbols take one table (their decoder looks symbols up in a slot
// table; small alphabets compare against the cumulative starts).
struct RansModel {
  std::vector<std::vector<uint32_t>> tables;
  std::vector<uint8_t> row_table;
  int64_t cols = 0;
};
inline constexpr int kRansMaxSmallAlphabet = 4;
inline constexpr int kRansMaxTables = 16;

// Chooses the model for `symbols` in rows of `cols` over `alphabet` symbols: one table from
// the overall counts, or (small alphabets) 2, 4, 8 or 16 tables, rows ordered by how often
// they hold the most common symbol (a filter's density) and split into equal groups, whichever
// codes smallest once the tables (16 bits per entry) and the rows' table ids are paid for.
RansModel rans_fit(std::span<const uint8_t> symbols, int64_t cols, int alphabet);

// Codes `symbols` (symbols.size() a multiple of cols; each symbol has a non-zero frequency in
// its row's table) into little-endian 16-bit words. When every table holds a single symbol the
// stream is empty.
std::vector<uint8_t> rans_encode(std::span<const uint8_t> symbols, const RansModel& model);

// Decodes exactly out.size() symbols, storing uint8(symbol + base) so callers can produce
// signed codes (base = min_code) without a second pass. Rejects, naming `where`, a model that
// is inconsistent (table sums, sizes, row tables), a stream that ends early or has bytes left
// over, and final states that differ from the encoder's initial state (which catches most
// corruption on its own).
void rans_decode(std::span<const uint8_t> stream, const RansModel& model, std::span<uint8_t> out,
                 uint8_t base, const std::string& where);

}  // namespace stern::compress
