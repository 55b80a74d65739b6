// .sternz writer and reader. Byte layout and header fields: docs/COMPRESSION.md.
#include "stern/archive.h"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "compress/graph_json.h"
#include "compress/rans.h"
#include "format/checked.h"
#include "format/container.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {
namespace {

using compress::json;

// PNG-style magic, distinct from the container's ("STERN" + 'Z').
constexpr uint8_t kMagic[8] = {0x89, 'S', 'T', 'R', 'N', 'Z', '\r', '\n'};
constexpr uint32_t kArchiveVersion = 1;
// magic | u32 version | u32 flags | u64 header_bytes | u64 header_raw_bytes | u32 crc32
constexpr size_t kPreambleBytes = 36;
constexpr size_t kCrcOffset = 32;
constexpr int kZstdLevel = 19;
// Decoded bytes of all tensors together: a small archive can describe many zeros (a layer of
// one symbol codes to nothing), so the decoder bounds what it will allocate.
constexpr uint64_t kMaxDecodedBytes = uint64_t{1} << 34;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

template <typename T>
T get(std::span<const uint8_t> bytes, size_t offset) {
  T v;
  std::memcpy(&v, bytes.data() + offset, sizeof(T));
  return v;
}

void put_varint(std::vector<uint8_t>& out, uint64_t v) {  // LEB128
  for (; v >= 0x80; v >>= 7) out.push_back(uint8_t(v | 0x80));
  out.push_back(uint8_t(v));
}

uint64_t get_varint(std::span<const uint8_t> bytes, uint64_t& offset, const std::string& where) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (offset >= bytes.size()) fail(where, "archive truncated in a size field");
    const uint8_t b = bytes[offset++];
    if (shift == 63 && b > 1) fail(where, "size field overflows 64 bits");
    v |= uint64_t(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail(where, "size field longer than 10 bytes");
}

std::vector<uint8_t> zstd_compress(std::span<const uint8_t> raw) {
  std::vector<uint8_t> out(ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(n)) fail("zstd", ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

std::vector<uint8_t> zstd_decompress(std::span<const uint8_t> frame, uint64_t raw_bytes,
                                     const std::string& where) {
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared != raw_bytes)
    fail(where, "zstd frame declares " +
                    (declared >= ZSTD_CONTENTSIZE_ERROR ? std::string("no valid size") : std::to_string(declared) + " bytes") +
                    ", expected " + std::to_string(raw_bytes));
  std::vector<uint8_t> out(raw_bytes);
  const size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n)) fail(where, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != raw_bytes) fail(where, "zstd frame holds " + std::to_string(n) + " bytes, expected " + std::to_string(raw_bytes));
  return out;
}

// Floats compress better split into byte planes: the sign/exponent bytes of values of one
// magnitude repeat, the low mantissa bytes are noise that no longer interleaves with them.
std::vector<uint8_t> split_planes(std::span<const uint8_t> bytes) {
  const size_t n = bytes.size() / 4;
  std::vector<uint8_t> out(bytes.size());
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < 4; ++k) out[k * n + i] = bytes[i * 4 + k];
  return out;
}

std::vector<uint8_t> join_planes(std::span<const uint8_t> planes) {
  const size_t n = planes.size() / 4;
  std::vector<uint8_t> out(planes.size());
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < 4; ++k) out[i * 4 + k] = planes[k * n + i];
  return out;
}

double entropy_bits(std::span<const uint64_t> counts) {
  uint64_t n = 0;
  for (const uint64_t c : counts) n += c;
  double bits = 0;
  for (const uint64_t c : counts)
    if (c != 0) bits -= double(c) * std::log2(double(c) / double(n));
  return bits;
}

// Sum over contexts of the entropy of the codes seen in that context.
double conditional_entropy_bits(const std::vector<int8_t>& codes, int alphabet_min, int alphabet,
                                int64_t contexts, const std::function<int64_t(size_t)>& context_of) {
  std::vector<uint64_t> counts(size_t(contexts) * alphabet, 0);
  for (size_t i = 0; i < codes.size(); ++i) ++counts[size_t(context_of(i)) * alphabet + (codes[i] - alphabet_min)];
  double bits = 0;
  for (int64_t c = 0; c < contexts; ++c) bits += entropy_bits(std::span(counts).subspan(size_t(c) * alphabet, alphabet));
  return bits;
}

// signed_binary rows hold one sign each, so the codes go as magnitudes {0, 1} plus one sign
// bit per row: the sign of every non-zero would otherwise cost up to a bit each.
bool codes_by_row_sign(Encoding e) { return e == Encoding::signed_binary; }

int bits_per_row_table(size_t tables) { return std::bit_width(tables - 1); }

// Row table ids, when there are several tables: log2(tables) bits per row, LSB first.
void put_row_tables(std::vector<uint8_t>& stream, const compress::RansModel& model) {
  if (model.tables.size() < 2) return;
  const int bits = bits_per_row_table(model.tables.size());
  const size_t at = stream.size();
  stream.resize(at + (model.row_table.size() * bits + 7) / 8, 0);
  for (size_t r = 0; r < model.row_table.size(); ++r)
    for (int b = 0; b < bits; ++b)
      if (model.row_table[r] >> b & 1) stream[at + (r * bits + b) / 8] |= uint8_t(1u << ((r * bits + b) % 8));
}

std::span<const uint8_t> take_row_tables(std::span<const uint8_t> stream, compress::RansModel& model, int64_t rows,
                                         const std::string& where) {
  const int bits = bits_per_row_table(model.tables.size());
  const auto bytes = size_t((uint64_t(rows) * bits + 7) / 8);
  if (stream.size() < bytes)
    fail(where, "stream of " + std::to_string(stream.size()) + " bytes is shorter than its " +
                    std::to_string(bytes) + " bytes of row table ids");
  model.row_table.assign(size_t(rows), 0);
  for (size_t r = 0; r < size_t(rows); ++r)
    for (int b = 0; b < bits; ++b)
      if (stream[(r * bits + b) / 8] >> ((r * bits + b) % 8) & 1) model.row_table[r] |= uint8_t(1u << b);
  return stream.subspan(bytes);
}

std::vector<uint32_t> read_table(const json& holder, int alphabet, const std::string& where) {
  std::vector<uint32_t> freq;
  for (const int64_t f : compress::get_ints(holder, "freq", where)) {
    if (f < 0 || f > int64_t(compress::kRansTotal)) fail(where, "frequency " + std::to_string(f) + " out of range");
    freq.push_back(uint32_t(f));
  }
  if (int(freq.size()) != alphabet)
    fail(where, "frequency table has " + std::to_string(freq.size()) + " entries, expected " + std::to_string(alphabet));
  return freq;
}

struct Writer {
  json tensors = json::array();
  std::vector<uint8_t> floats;                // f32 bytes of scales and float tensors
  std::vector<std::vector<uint8_t>> streams = std::vector<std::vector<uint8_t>>(1);  // stream 0: the zstd'd floats, filled last
  ArchiveStats stats;

  // Floats and streams are consumed in tensor order, so the header needs no offsets.
  void add_floats(std::span<const uint8_t> bytes) { floats.insert(floats.end(), bytes.begin(), bytes.end()); }
  void add_floats(const std::vector<float>& v) {
    add_floats({reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4});
  }

  void add_raw(const Tensor& t, json& entry, ArchiveTensorStats& s) {
    entry["kind"] = "raw";
    entry["raw_bytes"] = t.payload.size();
    streams.push_back(zstd_compress(t.payload));
    s.method = "zstd_raw";
    s.coded_bytes = int64_t(streams.back().size());
  }

  // Quantized codes through rANS; false when the payload does not survive unpack + pack
  // byte for byte (then the tensor goes raw so the round trip stays exact).
  bool add_codes(const Tensor& t, json& entry, ArchiveTensorStats& s) {
    const EncodingTraits& traits = encoding_traits(t.encoding);
    const std::string where = "tensor '" + t.name + "'";
    const WeightMatrix m = traits.unpack(t.payload, t.rows(), t.cols(), where);
    if (traits.pack(m) != std::vector<uint8_t>(t.payload.begin(), t.payload.end())) return false;

    const bool by_sign = codes_by_row_sign(t.encoding);
    const int base = by_sign ? 0 : traits.min_code;
    const int alphabet = by_sign ? 2 : traits.max_code - traits.min_code + 1;
    std::vector<uint8_t> symbols(m.codes.size());
    std::vector<uint64_t> code_counts(traits.max_code - traits.min_code + 1, 0);
    for (size_t i = 0; i < symbols.size(); ++i) {
      const int code = m.codes[i];
      symbols[i] = uint8_t(by_sign ? std::abs(code) : code - base);
      ++code_counts[code - traits.min_code];
    }
    std::vector<uint8_t> stream;
    if (by_sign) {  // bit r set: row r is negative
      stream.assign((m.rows + 7) / 8, 0);
      for (int64_t r = 0; r < m.rows; ++r) {
        const auto row = std::span(m.codes).subspan(r * m.cols, m.cols);
        const auto nz = std::find_if(row.begin(), row.end(), [](int8_t c) { return c != 0; });
        if (nz != row.end() && *nz < 0) stream[r / 8] |= uint8_t(1u << (r % 8));
      }
    }
    const compress::RansModel model = compress::rans_fit(symbols, m.cols, alphabet);
    put_row_tables(stream, model);
    const std::vector<uint8_t> coded = compress::rans_encode(symbols, model);
    stream.insert(stream.end(), coded.begin(), coded.end());

    entry["kind"] = "rans";
    if (m.group != m.cols) entry["group"] = m.group;  // default: one scale per row
    if (m.asymmetric) entry["asymmetric"] = true;
    add_floats(m.scale_pos);
    if (m.asymmetric) add_floats(m.scale_neg);
    if (model.tables.size() == 1) entry["freq"] = model.tables[0];
    else entry["freq"] = model.tables;
    streams.push_back(std::move(stream));

    s.method = "rans";
    s.coded_bytes = int64_t(streams.back().size());
    s.scale_floats = int64_t(m.scale_pos.size() * (m.asymmetric ? 2 : 1));
    s.tables = int(model.tables.size());
    s.entropy_bits = entropy_bits(code_counts);
    const int lo = traits.min_code, k = traits.max_code - traits.min_code + 1;
    const auto& codes = m.codes;
    const int64_t cols = m.cols;
    s.entropy_given_previous_bits = conditional_entropy_bits(codes, lo, k, k + 1, [&](size_t i) {
      return i % size_t(cols) == 0 ? int64_t{k} : int64_t{codes[i - 1] - lo};  // row start: own context
    });
    s.entropy_given_row_bits = conditional_entropy_bits(codes, lo, k, m.rows, [&](size_t i) { return int64_t(i / size_t(cols)); });
    // OHWI: column c sits at kernel position c / in_channels.
    const int64_t in_channels = t.shape.size() == 4 ? t.shape[3] : cols;
    s.entropy_given_kernel_position_bits = conditional_entropy_bits(
        codes, lo, k, cols / in_channels, [&](size_t i) { return int64_t(i % size_t(cols)) / in_channels; });
    s.table_bytes = int64_t(entry["freq"].dump().size());
    return true;
  }

  void add(const Tensor& t) {
    json entry = {{"name", t.name}, {"encoding", int(t.encoding)}, {"shape", t.shape}};
    ArchiveTensorStats s;
    s.name = t.name;
    s.encoding = encoding_traits(t.encoding).name;
    s.weights = t.numel();
    s.payload_bytes = int64_t(t.payload.size());
    if (t.encoding == Encoding::f32 && t.payload.size() % 4 == 0) {
      entry["kind"] = "floats";
      add_floats(t.payload);
      s.method = "zstd_floats";
    } else if (t.encoding == Encoding::f32 || !add_codes(t, entry, s)) {
      add_raw(t, entry, s);
    }
    tensors.push_back(std::move(entry));
    stats.tensors.push_back(std::move(s));
  }
};

// ---- reading ----

struct Reader {
  std::string name;
  std::vector<std::span<const uint8_t>> streams;
  std::vector<uint8_t> floats;
  uint64_t decoded = 0;

  void account(uint64_t bytes, const std::string& where) {
    decoded = checked_add(decoded, bytes, where);
    if (decoded > kMaxDecodedBytes)
      fail(where, "archive decodes to more than " + std::to_string(kMaxDecodedBytes) + " bytes");
  }

  size_t next_stream = 1;  // stream 0 holds the floats
  uint64_t next_float = 0;

  std::span<const uint8_t> take_stream(const std::string& where) {
    if (next_stream >= streams.size())
      fail(where, "needs stream " + std::to_string(next_stream) + " but the archive has only " +
                      std::to_string(streams.size()));
    return streams[next_stream++];
  }

  std::span<const uint8_t> take_floats(int64_t count, const std::string& where) {
    const uint64_t total = floats.size() / 4;
    if (uint64_t(count) > total - next_float)
      fail(where, "needs " + std::to_string(count) + " floats but only " + std::to_string(total - next_float) +
                      " of the float stream remain");
    const auto bytes = std::span<const uint8_t>(floats).subspan(next_float * 4, count * 4);
    next_float += uint64_t(count);
    return bytes;
  }

  std::vector<float> read_floats(int64_t count, const std::string& where) {
    const auto bytes = take_floats(count, where);
    std::vector<float> v(count);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }

  std::vector<uint8_t> decode_codes(const json& entry, Encoding e, int64_t rows, int64_t cols,
                                    const std::string& where) {
    const EncodingTraits& traits = encoding_traits(e);
    WeightMatrix m;
    m.rows = rows;
    m.cols = cols;
    m.group = entry.contains("group") ? compress::get_int(entry, "group", where) : cols;
    if (m.group < 1 || m.group > std::max<int64_t>(cols, 1))
      fail(where, "scale group " + std::to_string(m.group) + " out of range [1, " + std::to_string(cols) + "]");
    if (entry.contains("asymmetric")) {
      const json& asym = entry["asymmetric"];
      if (!asym.is_boolean()) fail(where, "field 'asymmetric' must be true or false");
      m.asymmetric = asym.get<bool>();
    }
    const int64_t n_scales = checked_mul(rows, m.groups_per_row(), where);
    m.scale_pos = read_floats(n_scales, where + " scales");
    m.scale_neg = m.asymmetric ? read_floats(n_scales, where + " scales") : m.scale_pos;

    const bool by_sign = codes_by_row_sign(e);
    const int alphabet = by_sign ? 2 : traits.max_code - traits.min_code + 1;
    compress::RansModel model;
    model.cols = cols;
    const json& freq = compress::member(entry, "freq", where);
    const bool several = freq.is_array() && !freq.empty() && freq[0].is_array();
    if (several) {
      const size_t k = freq.size();
      if (k < 2 || k > size_t(compress::kRansMaxTables) || (k & (k - 1)) != 0)
        fail(where, std::to_string(k) + " frequency tables, expected 2, 4, 8 or 16");
      for (const json& t : freq) model.tables.push_back(read_table(json{{"freq", t}}, alphabet, where));
    } else {
      model.tables.push_back(read_table(entry, alphabet, where));
    }

    std::span<const uint8_t> coded = take_stream(where);
    const int64_t n = checked_mul(rows, cols, where);
    account(uint64_t(n), where);
    m.codes.resize(n);
    std::span<const uint8_t> signs;
    if (by_sign) {
      const auto sign_bytes = size_t((rows + 7) / 8);
      if (coded.size() < sign_bytes)
        fail(where, "stream of " + std::to_string(coded.size()) + " bytes is shorter than its " +
                        std::to_string(sign_bytes) + " bytes of row signs");
      signs = coded.first(sign_bytes);
      coded = coded.subspan(sign_bytes);
    }
    if (several) coded = take_row_tables(coded, model, rows, where);
    auto* out = reinterpret_cast<uint8_t*>(m.codes.data());
    compress::rans_decode(coded, model, {out, size_t(n)}, uint8_t(by_sign ? 0 : traits.min_code), where);
    if (by_sign) {
      for (int64_t r = 0; r < rows; ++r)
        if (signs[r / 8] >> (r % 8) & 1)
          for (int64_t c = 0; c < cols; ++c) m.codes[r * cols + c] = int8_t(-m.codes[r * cols + c]);
    }
    try {
      return traits.pack(m);
    } catch (const Error& err) {
      fail(where, err.what());
    }
  }

  Tensor tensor(const json& entry, size_t index) {
    const std::string at = name + ": tensor " + std::to_string(index);
    const std::string tname = compress::get_string(entry, "name", at);
    const std::string where = name + ": tensor '" + tname + "'";
    const int64_t id = compress::get_int(entry, "encoding", where);
    if (id < 0 || id >= kEncodingCount)
      fail(where, "encoding id " + std::to_string(id) + " unknown, expected 0 to " + std::to_string(kEncodingCount - 1));
    const auto e = Encoding(id);
    const std::vector<int64_t> shape = compress::get_ints(entry, "shape", where);
    if (shape.size() > format::kMaxRank) fail(where, "rank " + std::to_string(shape.size()) + " exceeds " + std::to_string(format::kMaxRank));
    for (const int64_t d : shape)
      if (d < 1 || d > format::kMaxDim)
        fail(where, "dimension " + std::to_string(d) + " out of range [1, " + std::to_string(format::kMaxDim) + "]");
    const int64_t numel = checked_numel(shape, where);
    Tensor view;
    view.shape = shape;
    const std::string kind = compress::get_string(entry, "kind", where);
    std::vector<uint8_t> payload;
    if (kind == "floats") {
      const auto bytes = take_floats(numel, where);
      payload.assign(bytes.begin(), bytes.end());
    } else if (kind == "raw") {
      const int64_t raw = compress::get_int(entry, "raw_bytes", where);
      if (raw < 0) fail(where, "raw_bytes is negative");
      account(uint64_t(raw), where);
      payload = zstd_decompress(take_stream(where), uint64_t(raw), where);
    } else if (kind == "rans") {
      if (e == Encoding::f32) fail(where, "f32 tensors cannot be rANS-coded");
      payload = decode_codes(entry, e, view.rows(), view.cols(), where);
    } else {
      fail(where, "unknown kind '" + kind + "', expected floats, raw or rans");
    }
    return Tensor::from_bytes(tname, e, shape, std::move(payload));
  }
};

}  // namespace

bool is_archive(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof(kMagic) && std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) == 0;
}

std::vector<uint8_t> compress_model(const Graph& graph, ArchiveStats* stats) {
  validate_graph(graph, "compress");
  Writer w;
  for (const Tensor& t : graph.tensors) w.add(t);
  if (!w.floats.empty()) w.streams[0] = zstd_compress(split_planes(w.floats));
  const json header = {{"graph", compress::graph_to_json(graph)},
                       {"tensors", std::move(w.tensors)},
                       {"float_bytes", w.floats.size()}};
  const std::string text = header.dump();
  const std::vector<uint8_t> zheader = zstd_compress({reinterpret_cast<const uint8_t*>(text.data()), text.size()});

  std::vector<uint8_t> out(kMagic, kMagic + sizeof(kMagic));
  put<uint32_t>(out, kArchiveVersion);
  put<uint32_t>(out, 0);  // flags
  put<uint64_t>(out, zheader.size());
  put<uint64_t>(out, text.size());
  put<uint32_t>(out, format::crc32_of(zheader, format::crc32_of({out.data(), kCrcOffset})));
  out.insert(out.end(), zheader.begin(), zheader.end());
  // Stream table in binary: checksums are incompressible, so JSON would only add digits.
  for (const auto& s : w.streams) {
    put_varint(out, s.size());
    put<uint32_t>(out, format::crc32_of(s));
  }
  for (const auto& s : w.streams) out.insert(out.end(), s.begin(), s.end());

  if (stats != nullptr) {
    *stats = std::move(w.stats);
    stats->archive_bytes = int64_t(out.size());
    stats->header_bytes = int64_t(zheader.size());
    stats->float_stream_bytes = int64_t(w.streams[0].size());
    // Float tensors share one stream: give each its proportional share.
    for (auto& t : stats->tensors)
      if (t.method == "zstd_floats" && !w.floats.empty())
        t.coded_bytes = int64_t(std::llround(double(t.payload_bytes) * double(stats->float_stream_bytes) / double(w.floats.size())));
  }
  return out;
}

void save_archive(const Graph& graph, const std::filesystem::path& path, ArchiveStats* stats) {
  write_file_atomic(path, compress_model(graph, stats));
}

Graph load_archive_from_memory(std::span<const uint8_t> bytes, const std::string& name) {
  if (bytes.size() < kPreambleBytes)
    fail(name, "archive truncated: " + std::to_string(bytes.size()) + " bytes, the preamble alone needs " +
                   std::to_string(kPreambleBytes));
  if (!is_archive(bytes)) fail(name, "not a .sternz archive (bad magic)");
  const auto version = get<uint32_t>(bytes, 8);
  if (version != kArchiveVersion)
    fail(name, "archive version " + std::to_string(version) + " unsupported, expected " + std::to_string(kArchiveVersion));
  const auto flags = get<uint32_t>(bytes, 12);
  if (flags != 0) fail(name, "archive flags " + std::to_string(flags) + " unknown, expected 0");
  const auto header_bytes = get<uint64_t>(bytes, 16);
  const auto header_raw = get<uint64_t>(bytes, 24);
  if (header_bytes > format::kMaxHeaderBytes || header_raw > format::kMaxHeaderBytes)
    fail(name, "archive header size exceeds " + std::to_string(format::kMaxHeaderBytes) + " bytes");
  if (header_bytes > bytes.size() - kPreambleBytes)
    fail(name, "archive truncated: header needs " + std::to_string(header_bytes) + " bytes, " +
                   std::to_string(bytes.size() - kPreambleBytes) + " remain");
  const auto zheader = bytes.subspan(kPreambleBytes, header_bytes);
  if (format::crc32_of(zheader, format::crc32_of(bytes.first(kCrcOffset))) != get<uint32_t>(bytes, kCrcOffset))
    fail(name, "archive header checksum mismatch (file corrupt)");
  const std::vector<uint8_t> text = zstd_decompress(zheader, header_raw, name + ": header");
  json header;
  try {
    header = json::parse(text.begin(), text.end());
  } catch (const json::exception&) {
    fail(name, "archive header is not valid JSON");
  }

  Reader r;
  r.name = name;
  const std::string hw = name + ": header";
  const json& tensors = compress::get_array(header, "tensors", hw);
  if (tensors.size() > format::kMaxTensors)
    fail(hw, "tensor count " + std::to_string(tensors.size()) + " exceeds " + std::to_string(format::kMaxTensors));
  size_t stream_count = 1;  // the floats, then one per rans or raw tensor
  for (const json& t : tensors)
    if (t.is_object() && t.contains("kind") && t["kind"] != "floats") ++stream_count;

  uint64_t offset = kPreambleBytes + header_bytes;
  std::vector<std::pair<uint64_t, uint32_t>> table;  // size, crc
  for (size_t k = 0; k < stream_count; ++k) {
    const std::string at = name + ": stream table entry " + std::to_string(k);
    const uint64_t size = get_varint(bytes, offset, at);
    if (bytes.size() - offset < 4) fail(at, "archive truncated in the stream table");
    table.emplace_back(size, get<uint32_t>(bytes, offset));
    offset += 4;
  }
  for (size_t k = 0; k < stream_count; ++k) {
    const std::string at = name + ": stream " + std::to_string(k);
    const auto [size, crc] = table[k];
    if (size > bytes.size() - offset)
      fail(at, "archive truncated: stream needs " + std::to_string(size) + " bytes, " +
                   std::to_string(bytes.size() - offset) + " remain");
    const auto s = bytes.subspan(offset, size);
    if (format::crc32_of(s) != crc) fail(at, "checksum mismatch (file corrupt)");
    r.streams.push_back(s);
    offset += size;
  }
  if (offset != bytes.size())
    fail(name, std::to_string(bytes.size() - offset) + " unexpected bytes after the last stream");

  const int64_t float_bytes = compress::get_int(header, "float_bytes", hw);
  if (float_bytes < 0 || float_bytes % 4 != 0)
    fail(hw, "float_bytes " + std::to_string(float_bytes) + " must be a non-negative multiple of 4");
  r.account(uint64_t(float_bytes), hw);
  if (float_bytes > 0) r.floats = join_planes(zstd_decompress(r.streams[0], uint64_t(float_bytes), name + ": float stream"));
  else if (!r.streams[0].empty()) fail(name, "float stream must be empty when float_bytes is 0");

  Graph graph;
  compress::graph_from_json(compress::member(header, "graph", hw), graph, name + ": graph");
  for (size_t i = 0; i < tensors.size(); ++i) graph.tensors.push_back(r.tensor(tensors[i], i));
  if (r.next_stream != r.streams.size() || r.next_float != r.floats.size() / 4)
    fail(hw, "streams or floats left unused by the tensors (header inconsistent)");
  validate_graph(graph, name);
  return graph;
}

Graph load_archive(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail(path.string(), "not a readable regular file");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) fail(path.string(), "cannot determine the file size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path.string(), "cannot open for reading");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size))) fail(path.string(), "read error");
  return load_archive_from_memory(bytes, path.string());
}

}  // namespace stern
