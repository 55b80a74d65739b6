// Corruptions are made two ways: by editing bytes of a valid file at positions read from the
// documented layout (docs/FORMAT.md), optionally re-sealing the header checksum so the
// checks behind it are reached; and by serializing a semantically broken graph with the
// unvalidated writer, which produces correct checksums.
#include "format/corpus.h"

#include <cstring>
#include <functional>

#include "format/container.h"
#include "format/test_models.h"
#include "stern/format.h"

namespace stern::test {
namespace {

using Bytes = std::vector<uint8_t>;

template <typename T>
void poke(Bytes& b, size_t at, T v) {
  std::memcpy(&b[at], &v, sizeof(T));
}

template <typename T>
T peek(const Bytes& b, size_t at) {
  T v;
  std::memcpy(&v, &b[at], sizeof(T));
  return v;
}

uint64_t header_bytes(const Bytes& b) { return peek<uint64_t>(b, format::kHeaderBytesOffset); }
uint64_t data_offset(const Bytes& b) { return peek<uint64_t>(b, format::kDataOffsetOffset); }
uint64_t data_bytes(const Bytes& b) { return peek<uint64_t>(b, format::kDataBytesOffset); }

// Recomputes the header checksum after an edit, as a careless or malicious writer would.
void reseal(Bytes& b) {
  const std::span<const uint8_t> all(b);
  const uint32_t crc = format::crc32_of(all.subspan(format::kPreambleBytes, header_bytes(b)),
                                        format::crc32_of(all.first(format::kHeaderCrcOffset)));
  poke(b, format::kHeaderCrcOffset, crc);
}

// File positions of one tensor record's fields (docs/FORMAT.md, "Tensor record").
struct TensorRecord {
  size_t name_length, encoding, rank, dims, offset, size, crc, end;
};

std::vector<TensorRecord> tensor_records(const Bytes& b) {
  size_t at = format::kPreambleBytes;
  const auto count = peek<uint32_t>(b, at);
  at += 4;
  std::vector<TensorRecord> records;
  for (uint32_t i = 0; i < count; ++i) {
    TensorRecord r{};
    r.name_length = at;
    r.encoding = at + 4 + peek<uint32_t>(b, at);
    r.rank = r.encoding + 2;
    r.dims = r.rank + 4;
    r.offset = r.dims + 8 * peek<uint32_t>(b, r.rank);
    r.size = r.offset + 8;
    r.crc = r.size + 8;
    r.end = r.crc + 4;
    records.push_back(r);
    at = r.end;
  }
  return records;
}

Bytes serialize_broken(const std::function<void(Graph&)>& mutate) {
  Graph g = every_op_graph();
  mutate(g);
  return format::serialize_unchecked(g);
}

}  // namespace

Bytes valid_model_bytes() { return serialize_model(every_op_graph()); }

std::vector<Corruption> corruption_corpus() {
  const Bytes valid = valid_model_bytes();
  const auto records = tensor_records(valid);
  const TensorRecord& first = records.front();
  const TensorRecord& last = records.back();
  std::vector<Corruption> corpus;

  auto edit = [&](std::string name, std::string expect, bool sealed, const std::function<void(Bytes&)>& f) {
    Bytes b = valid;
    f(b);
    if (sealed) reseal(b);
    corpus.push_back({std::move(name), std::move(b), std::move(expect)});
  };

  // Truncation at many points: inside the preamble, the header, the padding and the data.
  const size_t truncations[] = {0,
                                1,
                                8,
                                format::kPreambleBytes - 1,
                                format::kPreambleBytes,
                                format::kPreambleBytes + 3,
                                format::kPreambleBytes + header_bytes(valid) / 2,
                                format::kPreambleBytes + header_bytes(valid),
                                data_offset(valid),
                                data_offset(valid) + data_bytes(valid) / 3,
                                data_offset(valid) + data_bytes(valid) * 2 / 3,
                                valid.size() - 1};
  for (const size_t n : truncations) {
    edit("truncated_at_" + std::to_string(n),
         n < format::kPreambleBytes ? "a .stern file has at least" : "truncated or padded", false,
         [n](Bytes& b) { b.resize(n); });
  }
  edit("trailing_garbage", "truncated or padded", false, [](Bytes& b) { b.resize(b.size() + 64, 0xab); });

  // Preamble fields.
  edit("bad_magic", "bad magic", false, [](Bytes& b) { b[1] ^= 0x20; });
  edit("newline_mangled_magic", "bad magic", false, [](Bytes& b) { b[6] = '\n'; });
  edit("future_version", "format version 2 is not supported", false,
       [](Bytes& b) { poke<uint32_t>(b, format::kVersionOffset, 2); });
  edit("flags_set", "flags", false, [](Bytes& b) { poke<uint32_t>(b, format::kFlagsOffset, 1); });
  edit("reserved_byte_set", "reserved byte 50", false, [](Bytes& b) { b[50] = 1; });
  edit("huge_header_bytes", "header_bytes 4611686018427387904 exceeds the maximum", false,
       [](Bytes& b) { poke<uint64_t>(b, format::kHeaderBytesOffset, uint64_t{1} << 62); });
  edit("header_bytes_mismatch", "data_offset", false,
       [](Bytes& b) { poke<uint64_t>(b, format::kHeaderBytesOffset, header_bytes(b) + 64); });
  edit("misaligned_data_offset", "data_offset", false,
       [](Bytes& b) { poke<uint64_t>(b, format::kDataOffsetOffset, data_offset(b) + 8); });
  edit("huge_data_bytes", "overflows", false,
       [](Bytes& b) { poke<uint64_t>(b, format::kDataBytesOffset, ~uint64_t{0} - 8); });
  edit("short_data_bytes", "truncated or padded", false,
       [](Bytes& b) { poke<uint64_t>(b, format::kDataBytesOffset, data_bytes(b) - 64); });

  // Bit flips caught by the checksums.
  edit("header_bit_flip", "header checksum", false, [&](Bytes& b) { b[first.name_length + 5] ^= 0x01; });
  edit("header_count_bit_flip", "header checksum", false, [](Bytes& b) { b[format::kPreambleBytes] ^= 0x80; });
  edit("header_crc_bit_flip", "header checksum", false, [](Bytes& b) { b[format::kHeaderCrcOffset] ^= 0x10; });
  edit("tensor_bit_flip", "tensor data is corrupted", false, [](Bytes& b) { b.back() ^= 0x04; });
  edit("tensor_first_byte_flip", "tensor data is corrupted", false,
       [](Bytes& b) { b[data_offset(b)] ^= 0x40; });
  // Padding is covered by no checksum, so it must be zero.
  edit("header_padding_set", "header padding", false,
       [](Bytes& b) { b[data_offset(b) - 1] ^= 1; });

  // Header fields with a re-sealed checksum: the bounded parser and the layout checks.
  edit("tensor_count_huge", "exceeds the maximum 65536", true,
       [](Bytes& b) { poke<uint32_t>(b, format::kPreambleBytes, 0xffffffffu); });
  edit("tensor_count_past_header", "do not fit", true,
       [](Bytes& b) { poke<uint32_t>(b, format::kPreambleBytes, 60000); });
  edit("name_length_huge", "exceeds the maximum 1024", true,
       [&](Bytes& b) { poke<uint32_t>(b, first.name_length, 0xfffffff0u); });
  edit("newline_in_name", "control character (code 10) at byte 1", true,
       [&](Bytes& b) { b[first.name_length + 5] = '\n'; });
  edit("rank_huge", "exceeds the maximum 8", true, [&](Bytes& b) { poke<uint32_t>(b, first.rank, 1000); });
  edit("dimension_negative", "dimension -5 out of range", true,
       [&](Bytes& b) { poke<int64_t>(b, first.dims, -5); });
  edit("dimension_huge", "dimension 1099511627776 out of range", true,
       [&](Bytes& b) { poke<int64_t>(b, first.dims, int64_t{1} << 40); });
  edit("unknown_encoding", "unknown encoding id 99", true, [&](Bytes& b) { poke<uint16_t>(b, first.encoding, 99); });
  edit("offset_past_end", "past the end", true,
       [&](Bytes& b) { poke<uint64_t>(b, last.offset, format::align_up(data_bytes(b)) + 64 * 1000); });
  edit("offset_misaligned", "is not a multiple of 64", true,
       [&](Bytes& b) { poke<uint64_t>(b, records[1].offset, peek<uint64_t>(b, records[1].offset) + 4); });
  edit("offset_overlap", "overlaps the previous tensor", true, [&](Bytes& b) { poke<uint64_t>(b, records[1].offset, 0); });
  edit("size_huge", "overflows", true, [&](Bytes& b) { poke<uint64_t>(b, last.size, ~uint64_t{0} - 8); });
  edit("size_past_end", "past the end", true,
       [&](Bytes& b) { poke<uint64_t>(b, last.size, peek<uint64_t>(b, last.size) + 1); });
  edit("size_short", "after the last tensor", true, [&](Bytes& b) {
    // The tensor's checksum is made to match its shortened payload.
    const uint64_t size = peek<uint64_t>(b, last.size) - 4;
    poke<uint64_t>(b, last.size, size);
    const size_t begin = data_offset(b) + peek<uint64_t>(b, last.offset);
    poke<uint32_t>(b, last.crc, format::crc32_of(std::span<const uint8_t>(b).subspan(begin, size)));
  });
  edit("checksum_field_wrong", "tensor data is corrupted", true, [&](Bytes& b) { b[last.crc] ^= 0xff; });
  // The metadata's last attribute ("seed", an int) ends the header: type tag then 8 bytes.
  edit("unknown_attribute_type", "unknown attribute type 9", true,
       [](Bytes& b) { b[format::kPreambleBytes + header_bytes(b) - 9] = 9; });

  // Semantically broken graphs with correct checksums: validate_graph's checks.
  auto broken = [&](std::string name, std::string expect, const std::function<void(Graph&)>& f) {
    corpus.push_back({std::move(name), serialize_broken(f), std::move(expect)});
  };
  broken("unknown_operator", "unknown operator id 999", [](Graph& g) { g.nodes[2].op = static_cast<OpType>(999); });
  broken("f32_payload_short", "f32 payload is 12 bytes",
         [](Graph& g) { g.tensors[1].payload = g.tensors[1].payload.first(12); });
  broken("ternary_payload_short", "tensor 'conv1.w'",
         [](Graph& g) { g.tensors[0].payload = g.tensors[0].payload.first(g.tensors[0].payload.size() - 1); });
  broken("input_channels_mismatch", "weight input channels", [](Graph& g) { g.inputs[0].shape = {-1, 5, 8, 8}; });
  broken("undefined_input", "input 'nowhere' is not defined before use", [](Graph& g) { g.nodes[5].inputs[1] = "nowhere"; });
  broken("use_before_definition", "is not defined before use", [](Graph& g) { std::swap(g.nodes[1], g.nodes[2]); });
  broken("duplicate_output", "already defined", [](Graph& g) { g.nodes[3].outputs[0] = "conv1"; });
  broken("output_shape_wrong", "declared shape", [](Graph& g) { g.outputs[0].shape = {-1, 7}; });
  broken("attribute_wrong_type", "attribute 'strides'", [](Graph& g) { g.nodes[0].attrs["strides"] = 2.0; });
  broken("pads_wrong_count", "attribute 'pads' has 3 values", [](Graph& g) {
    g.nodes[0].attrs["pads"] = std::vector<int64_t>{1, 1, 1};
  });
  broken("negative_act_scale", "act_scale", [](Graph& g) { g.nodes[0].attrs["act_scale"] = -1.0; });
  broken("huge_input_shape", "more than 1099511627776 elements",
         [](Graph& g) { g.inputs[0].shape = {-1, 3, int64_t{1} << 30, int64_t{1} << 30}; });
  broken("no_outputs", "no outputs", [](Graph& g) { g.outputs.clear(); });
  return corpus;
}

}  // namespace stern::test
