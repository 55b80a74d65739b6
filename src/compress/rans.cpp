#include "compress/rans.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>

#include "stern/error.h"

namespace stern::compress {
namespace {

static_assert(std::endian::native == std::endian::little, "the stream stores 16-bit words little-endian");

constexpr uint32_t kLow = 1u << 16;  // states live in [kLow, 2^32)
constexpr int kLanes = 4;

std::vector<uint32_t> cumulative(std::span<const uint32_t> freq) {
  std::vector<uint32_t> start(freq.size() + 1, 0);
  for (size_t s = 0; s < freq.size(); ++s) start[s + 1] = start[s] + freq[s];
  return start;
}

int used_symbols(std::span<const uint32_t> freq) {
  return int(std::count_if(freq.begin(), freq.end(), [](uint32_t f) { return f != 0; }));
}

}  // namespace

std::vector<uint32_t> rans_normalize(std::span<const uint64_t> counts) {
  std::vector<uint32_t> freq(counts.size(), 0);
  uint64_t n = 0;
  for (const uint64_t c : counts) n += c;
  if (n == 0) {
    if (!freq.empty()) freq[0] = kRansTotal;
    return freq;
  }
  int64_t sum = 0;
  for (size_t s = 0; s < counts.size(); ++s) {
    if (counts[s] == 0) continue;
    const double ideal = double(counts[s]) * kRansTotal / double(n);
    freq[s] = uint32_t(std::max(1.0, std::round(ideal)));
    sum += freq[s];
  }
  // Rounding leaves the total off by at most a few units per symbol; settle the difference one
  // unit at a time where it costs the fewest coded bits (exact greedy for a convex cost).
  while (sum != kRansTotal) {
    size_t best = counts.size();
    double best_delta = 0;
    for (size_t s = 0; s < counts.size(); ++s) {
      if (counts[s] == 0) continue;
      const double f = freq[s];
      if (sum < int64_t(kRansTotal)) {
        const double gain = double(counts[s]) * std::log2((f + 1) / f);
        if (best == counts.size() || gain > best_delta) best = s, best_delta = gain;
      } else if (freq[s] > 1) {
        const double loss = double(counts[s]) * std::log2(f / (f - 1));
        if (best == counts.size() || loss < best_delta) best = s, best_delta = loss;
      }
    }
    if (sum < int64_t(kRansTotal)) {
      ++freq[best];
      ++sum;
    } else {
      --freq[best];
      --sum;
    }
  }
  return freq;
}

double rans_cost_bits(std::span<const uint64_t> counts, std::span<const uint32_t> freq) {
  double bits = 0;
  for (size_t s = 0; s < counts.size(); ++s)
    if (counts[s] != 0) bits -= double(counts[s]) * std::log2(double(freq[s]) / kRansTotal);
  return bits;
}

namespace {

bool degenerate(const std::vector<uint32_t>& freq) { return used_symbols(freq) <= 1; }

// Checks everything the coder relies on; the encoder's caller and the decoder share it.
void check_model(const RansModel& m, size_t n, const std::string& where) {
  if (m.tables.empty() || m.tables.size() > size_t(kRansMaxTables))
    fail(where, std::to_string(m.tables.size()) + " frequency tables, expected 1 to " + std::to_string(kRansMaxTables));
  const size_t alphabet = m.tables[0].size();
  if (alphabet == 0 || alphabet > size_t(kRansMaxSymbols))
    fail(where, "frequency table has " + std::to_string(alphabet) + " symbols, expected 1 to " + std::to_string(kRansMaxSymbols));
  if (alphabet > size_t(kRansMaxSmallAlphabet) && m.tables.size() != 1)
    fail(where, "alphabets above " + std::to_string(kRansMaxSmallAlphabet) + " symbols take one table");
  for (const auto& t : m.tables) {
    if (t.size() != alphabet)
      fail(where, "frequency tables differ in size (" + std::to_string(t.size()) + " vs " + std::to_string(alphabet) + ")");
    const uint32_t sum = cumulative(t).back();
    if (sum != kRansTotal) fail(where, "frequency table sums to " + std::to_string(sum) + ", expected " + std::to_string(kRansTotal));
  }
  if (m.cols < 1 || n % uint64_t(m.cols) != 0)
    fail(where, std::to_string(n) + " symbols do not form rows of " + std::to_string(m.cols));
  if (!m.row_table.empty()) {
    if (m.row_table.size() != n / uint64_t(m.cols))
      fail(where, std::to_string(m.row_table.size()) + " row tables for " + std::to_string(n / uint64_t(m.cols)) + " rows");
    for (const uint8_t t : m.row_table)
      if (t >= m.tables.size()) fail(where, "row table " + std::to_string(t) + " out of range");
  }
}

// Decoding view of one table: small alphabets find the symbol by comparing the slot with the
// cumulative starts (padded with kRansTotal), large ones through a slot table.
struct DecodeTable {
  std::array<uint32_t, kRansMaxSymbols + 1> start{};
  std::array<uint32_t, kRansMaxSymbols> freq{};
  std::vector<uint8_t> slot_symbol;  // large alphabets only
};

DecodeTable decode_table(const std::vector<uint32_t>& freq) {
  DecodeTable t;
  t.start.fill(kRansTotal);
  const std::vector<uint32_t> start = cumulative(freq);
  std::copy(start.begin(), start.end(), t.start.begin());
  std::copy(freq.begin(), freq.end(), t.freq.begin());
  if (freq.size() > size_t(kRansMaxSmallAlphabet)) {
    t.slot_symbol.resize(kRansTotal);
    for (size_t s = 0; s < freq.size(); ++s)
      std::fill(t.slot_symbol.begin() + start[s], t.slot_symbol.begin() + start[s + 1], uint8_t(s));
  }
  return t;
}

constexpr int kLanesMask = kLanes - 1;

}  // namespace

RansModel rans_fit(std::span<const uint8_t> symbols, int64_t cols, int alphabet) {
  constexpr double kTableEntryBits = 16;
  RansModel best;
  best.cols = std::max<int64_t>(cols, 1);
  const size_t rows = symbols.size() / size_t(best.cols);
  std::vector<uint64_t> counts(size_t(rows) * alphabet, 0), total(alphabet, 0);
  for (size_t i = 0; i < symbols.size(); ++i) {
    ++counts[(i / size_t(best.cols)) * alphabet + symbols[i]];
    ++total[symbols[i]];
  }
  best.tables = {rans_normalize(total)};
  double best_bits = rans_cost_bits(total, best.tables[0]) + alphabet * kTableEntryBits;
  if (alphabet > kRansMaxSmallAlphabet || rows < 2) return best;

  const auto mode = size_t(std::max_element(total.begin(), total.end()) - total.begin());
  std::vector<size_t> order(rows);
  for (size_t r = 0; r < rows; ++r) order[r] = r;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return counts[a * alphabet + mode] < counts[b * alphabet + mode]; });
  for (size_t k = 2; k <= size_t(kRansMaxTables) && k <= rows; k *= 2) {
    RansModel m;
    m.cols = best.cols;
    m.row_table.resize(rows);
    std::vector<std::vector<uint64_t>> group(k, std::vector<uint64_t>(alphabet, 0));
    for (size_t at = 0; at < rows; ++at) {
      const size_t g = at * k / rows, r = order[at];
      m.row_table[r] = uint8_t(g);
      for (int s = 0; s < alphabet; ++s) group[g][s] += counts[r * alphabet + s];
    }
    double bits = double(rows) * std::log2(double(k)) + double(k * alphabet) * kTableEntryBits;
    for (const auto& c : group) {
      m.tables.push_back(rans_normalize(c));
      bits += rans_cost_bits(c, m.tables.back());
    }
    if (bits < best_bits) best = std::move(m), best_bits = bits;
  }
  return best;
}

std::vector<uint8_t> rans_encode(std::span<const uint8_t> symbols, const RansModel& model) {
  check_model(model, symbols.size(), "rans_encode");
  if (std::all_of(model.tables.begin(), model.tables.end(), degenerate)) return {};
  std::vector<std::vector<uint32_t>> starts;
  for (const auto& t : model.tables) starts.push_back(cumulative(t));
  const auto cols = size_t(model.cols);
  std::vector<uint16_t> words;  // pushed in reverse order: the decoder pops them
  words.reserve(symbols.size() / 4 + 2 * kLanes);
  std::array<uint32_t, kLanes> x;
  x.fill(kLow);
  // Lanes restart at every row (lane = column mod 4), so the decoder can switch tables per row.
  for (size_t i = symbols.size(); i-- > 0;) {
    const size_t table = model.row_table.empty() ? 0 : model.row_table[i / cols];
    const uint8_t s = symbols[i];
    const uint32_t f = model.tables[table][s];
    if (f == 0) fail("rans_encode", "symbol " + std::to_string(s) + " has no frequency in its table");
    uint32_t& state = x[(i % cols) & kLanesMask];
    const uint64_t limit = (uint64_t{kLow >> kRansScaleBits} << 16) * f;
    if (state >= limit) {
      words.push_back(uint16_t(state));
      state >>= 16;
    }
    state = ((state / f) << kRansScaleBits) + (state % f) + starts[table][s];
  }
  for (int lane = kLanes; lane-- > 0;) {
    words.push_back(uint16_t(x[lane]));
    words.push_back(uint16_t(x[lane] >> 16));
  }
  std::reverse(words.begin(), words.end());
  std::vector<uint8_t> bytes(words.size() * 2);
  std::memcpy(bytes.data(), words.data(), bytes.size());
  return bytes;
}

void rans_decode(std::span<const uint8_t> stream, const RansModel& model, std::span<uint8_t> out,
                 uint8_t base, const std::string& where) {
  check_model(model, out.size(), where);
  if (std::all_of(model.tables.begin(), model.tables.end(), degenerate)) {
    if (!stream.empty())
      fail(where, "a single-symbol stream must be empty, found " + std::to_string(stream.size()) + " bytes");
    const auto cols = size_t(model.cols);
    for (size_t i = 0; i < out.size(); ++i) {
      const auto& f = model.tables[model.row_table.empty() ? 0 : model.row_table[i / cols]];
      out[i] = uint8_t(size_t(std::find_if(f.begin(), f.end(), [](uint32_t v) { return v != 0; }) - f.begin()) + base);
    }
    return;
  }
  if (stream.size() % 2 != 0 || stream.size() < 2 * kLanes * sizeof(uint16_t))
    fail(where, "coded stream of " + std::to_string(stream.size()) +
                    " bytes is truncated (expected an even size of at least 16)");

  std::vector<DecodeTable> tables;
  for (const auto& t : model.tables) tables.push_back(decode_table(t));
  const bool small = model.tables[0].size() <= size_t(kRansMaxSmallAlphabet);
  const uint8_t* p = stream.data();
  const uint8_t* const end = stream.data() + stream.size();
  auto read = [&p]() {
    uint16_t w;
    std::memcpy(&w, p, 2);
    p += 2;
    return uint32_t{w};
  };
  std::array<uint32_t, kLanes> x;
  for (auto& state : x) {
    state = read() << 16;
    state |= read();
  }
  // One decode step. The renormalization is branch-free on the fast path because whether a
  // lane needs a word is data-dependent noise the branch predictor cannot learn; the checked
  // path, used for the last few words, tests the bound before reading.
  auto step = [&]<bool kSmall, bool kChecked>(const DecodeTable& t, uint32_t& state, uint8_t& o, size_t i) {
    const uint32_t slot = state & (kRansTotal - 1);
    uint32_t s;
    if constexpr (kSmall) {
      s = uint32_t(slot >= t.start[1]) + uint32_t(slot >= t.start[2]) + uint32_t(slot >= t.start[3]);
    } else {
      s = t.slot_symbol[slot];
    }
    state = t.freq[s] * (state >> kRansScaleBits) + slot - t.start[s];
    o = uint8_t(s + base);
    if constexpr (kChecked) {
      if (state >= kLow) return;
      if (p == end)
        fail(where, "coded stream ends after " + std::to_string(i) + " of " + std::to_string(out.size()) + " symbols");
      state = (state << 16) | read();
    } else {
      uint16_t w;
      std::memcpy(&w, p, 2);
      const bool refill = state < kLow;
      state = refill ? (state << 16) | w : state;
      p += refill ? 2 : 0;
    }
  };
  auto decode_rows = [&]<bool kSmall>() {
    const auto cols = size_t(model.cols);
    for (size_t row = 0, i0 = 0; i0 < out.size(); ++row, i0 += cols) {
      const DecodeTable& t = tables[model.row_table.empty() ? 0 : model.row_table[row]];
      uint8_t* o = out.data() + i0;
      size_t j = 0;
      // Fast path while even four refills stay inside the stream.
      for (; j + kLanes <= cols && end - p >= 2 * kLanes; j += kLanes) {
        step.template operator()<kSmall, false>(t, x[0], o[j + 0], i0 + j);
        step.template operator()<kSmall, false>(t, x[1], o[j + 1], i0 + j);
        step.template operator()<kSmall, false>(t, x[2], o[j + 2], i0 + j);
        step.template operator()<kSmall, false>(t, x[3], o[j + 3], i0 + j);
      }
      for (; j < cols; ++j) step.template operator()<kSmall, true>(t, x[j & kLanesMask], o[j], i0 + j);
    }
  };
  if (small) decode_rows.template operator()<true>();
  else decode_rows.template operator()<false>();
  if (p != end)
    fail(where, "coded stream has " + std::to_string(end - p) + " bytes left after " + std::to_string(out.size()) + " symbols");
  for (const uint32_t state : x)
    if (state != kLow) fail(where, "coded stream is corrupt (final decoder state does not match)");
}

}  // namespace stern::compress
