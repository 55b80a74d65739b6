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

std::vector<uint8_t> rans_encode(std::span<const uint8_t> symbols, std::span<const uint32_t> freq) {
  if (used_symbols(freq) <= 1) return {};
  const std::vector<uint32_t> start = cumulative(freq);
  std::vector<uint16_t> words;  // pushed in reverse order: the decoder pops them
  words.reserve(symbols.size() / 4 + 2 * kLanes);
  std::array<uint32_t, kLanes> x;
  x.fill(kLow);
  for (size_t i = symbols.size(); i-- > 0;) {
    const uint8_t s = symbols[i];
    const uint32_t f = freq[s];
    uint32_t& state = x[i % kLanes];
    const uint64_t limit = (uint64_t{kLow >> kRansScaleBits} << 16) * f;
    if (state >= limit) {
      words.push_back(uint16_t(state));
      state >>= 16;
    }
    state = ((state / f) << kRansScaleBits) + (state % f) + start[s];
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

void rans_decode(std::span<const uint8_t> stream, std::span<const uint32_t> freq,
                 std::span<uint8_t> out, uint8_t base, const std::string& where) {
  if (freq.empty() || freq.size() > size_t(kRansMaxSymbols))
    fail(where, "frequency table has " + std::to_string(freq.size()) + " symbols, expected 1 to " +
                    std::to_string(kRansMaxSymbols));
  const std::vector<uint32_t> start = cumulative(freq);
  if (start.back() != kRansTotal)
    fail(where, "frequency table sums to " + std::to_string(start.back()) + ", expected " +
                    std::to_string(kRansTotal));
  if (used_symbols(freq) == 1) {
    if (!stream.empty())
      fail(where, "a single-symbol stream must be empty, found " + std::to_string(stream.size()) + " bytes");
    const auto s = size_t(std::find_if(freq.begin(), freq.end(), [](uint32_t f) { return f != 0; }) - freq.begin());
    std::fill(out.begin(), out.end(), uint8_t(s + base));
    return;
  }
  if (stream.size() % 2 != 0 || stream.size() < 2 * kLanes * sizeof(uint16_t))
    fail(where, "coded stream of " + std::to_string(stream.size()) +
                    " bytes is truncated (expected an even size of at least 16)");

  std::array<uint8_t, kRansTotal> slot_symbol;
  for (size_t s = 0; s < freq.size(); ++s)
    std::fill(slot_symbol.begin() + start[s], slot_symbol.begin() + start[s + 1], uint8_t(s));
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
  auto step = [&]<bool kChecked>(uint32_t& state, uint8_t& o, size_t i) {
    const uint32_t slot = state & (kRansTotal - 1);
    const uint8_t s = slot_symbol[slot];
    state = freq[s] * (state >> kRansScaleBits) + slot - start[s];
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
  const size_t n = out.size();
  size_t i = 0;
  // Fast path while even four refills stay inside the stream.
  for (; i + kLanes <= n && end - p >= 2 * kLanes; i += kLanes) {
    step.operator()<false>(x[0], out[i + 0], i);
    step.operator()<false>(x[1], out[i + 1], i);
    step.operator()<false>(x[2], out[i + 2], i);
    step.operator()<false>(x[3], out[i + 3], i);
  }
  for (; i < n; ++i) step.operator()<true>(x[i % kLanes], out[i], i);
  if (p != end)
    fail(where, "coded stream has " + std::to_string(end - p) + " bytes left after " + std::to_string(n) + " symbols");
  for (const uint32_t state : x)
    if (state != kLow) fail(where, "coded stream is corrupt (final decoder state does not match)");
}

}  // namespace stern::compress
