// Round trip, layout and atomic-write tests for the .stern container.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "format/container.h"
#include "format/test_models.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {
namespace {

namespace fs = std::filesystem;

fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::path(STERN_BINARY_DIR) / "tests" / "format" / "scratch" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint64_t le64(const std::vector<uint8_t>& b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v |= uint64_t{b[at + i]} << (8 * i);
  return v;
}

void expect_same_graph(const Graph& a, const Graph& b) {
  ASSERT_EQ(a.inputs.size(), b.inputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    EXPECT_EQ(a.inputs[i].name, b.inputs[i].name);
    EXPECT_EQ(a.inputs[i].shape, b.inputs[i].shape);
  }
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    EXPECT_EQ(a.outputs[i].name, b.outputs[i].name);
    EXPECT_EQ(a.outputs[i].shape, b.outputs[i].shape);
  }
  ASSERT_EQ(a.nodes.size(), b.nodes.size());
  for (size_t i = 0; i < a.nodes.size(); ++i) {
    EXPECT_EQ(a.nodes[i].op, b.nodes[i].op);
    EXPECT_EQ(a.nodes[i].name, b.nodes[i].name);
    EXPECT_EQ(a.nodes[i].inputs, b.nodes[i].inputs);
    EXPECT_EQ(a.nodes[i].outputs, b.nodes[i].outputs);
    EXPECT_EQ(a.nodes[i].attrs, b.nodes[i].attrs) << a.nodes[i].name;
  }
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor& x = a.tensors[i];
    const Tensor& y = b.tensors[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.encoding, y.encoding);
    EXPECT_EQ(x.shape, y.shape);
    ASSERT_EQ(x.payload.size(), y.payload.size()) << x.name;
    EXPECT_EQ(0, std::memcmp(x.payload.data(), y.payload.data(), x.payload.size())) << x.name;
    EXPECT_EQ(x.to_floats(), y.to_floats()) << x.name;
  }
}

TEST(Container, EveryOpAttributeTypeAndEncodingIsUsed) {
  // Guards the round-trip test's coverage when OpType or Encoding grow.
  const Graph g = test::every_op_graph();
  std::set<OpType> ops;
  for (const Node& n : g.nodes) ops.insert(n.op);
  EXPECT_EQ(ops.size(), static_cast<size_t>(kOpTypeCount)) << "add the new op to every_op_graph()";
  std::set<Encoding> encodings;
  for (const Tensor& t : g.tensors) encodings.insert(t.encoding);
  EXPECT_EQ(encodings.size(), static_cast<size_t>(kEncodingCount))
      << "add the new encoding to every_op_graph()";
  std::set<size_t> attr_types;
  for (const Node& n : g.nodes) {
    for (const auto& [key, value] : n.attrs) attr_types.insert(value.index());
  }
  EXPECT_EQ(attr_types.size(), std::variant_size_v<AttrValue>);
}

TEST(Container, RoundTripInMemory) {
  const Graph g = test::every_op_graph();
  const std::vector<uint8_t> bytes = serialize_model(g);
  const Graph back = load_model_from_memory(bytes, "memory");
  expect_same_graph(g, back);
  // Serialization is deterministic: the reloaded graph writes the same bytes.
  EXPECT_EQ(serialize_model(back), bytes);
}

TEST(Container, SaveLoadMapsAlignedPayloadsInPlace) {
  const fs::path path = scratch_dir("save_load") / "model.stern";
  const Graph g = test::every_op_graph();
  save_model(g, path);
  const std::vector<uint8_t> file = read_all(path);
  // The documented preamble: magic, version, and sizes that add up to the file size.
  ASSERT_GE(file.size(), format::kPreambleBytes);
  EXPECT_EQ(0, std::memcmp(file.data(), "\x89STERN\r\n", 8));
  EXPECT_EQ(file[8], kFormatVersion);
  const uint64_t header_bytes = le64(file, 16), data_offset = le64(file, 24), data_bytes = le64(file, 32);
  EXPECT_EQ(data_offset % 64, 0u);
  EXPECT_GE(data_offset, 64 + header_bytes);
  EXPECT_EQ(data_offset + data_bytes, file.size());

  const Graph back = load_model(path);
  expect_same_graph(g, back);
  for (const Tensor& t : back.tensors) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.payload.data()) % 64, 0u) << t.name;
    EXPECT_NE(t.owner, nullptr) << t.name;
    // In place: the payload bytes are the file's bytes at a 64-aligned offset.
    const auto* base = back.tensors.front().payload.data();
    const ptrdiff_t offset = t.payload.data() - base;
    ASSERT_GE(offset, 0);
    EXPECT_EQ(0, std::memcmp(t.payload.data(), &file[data_offset + offset], t.payload.size()));
  }
}

TEST(Container, TensorsOutliveTheGraphThroughOwner) {
  const fs::path path = scratch_dir("owner") / "model.stern";
  save_model(test::every_op_graph(), path);
  Tensor kept;
  {
    Graph g = load_model(path);
    kept = g.tensors.back();
  }
  EXPECT_EQ(kept.to_floats().size(), static_cast<size_t>(kept.numel()));
}

TEST(Container, WriterRejectsInvalidGraphs) {
  Graph g = test::every_op_graph();
  g.nodes[1].inputs[0] = "missing";
  EXPECT_THROW(serialize_model(g), Error);
  const fs::path path = scratch_dir("reject") / "model.stern";
  EXPECT_THROW(save_model(g, path), Error);
  EXPECT_FALSE(fs::exists(path));
}

TEST(Container, LoadMissingFileNamesIt) {
  try {
    load_model("/nonexistent/dir/model.stern");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.stern"), std::string::npos);
  }
}

TEST(AtomicWrite, ReplacesAndLeavesNoTemporaryFiles) {
  const fs::path dir = scratch_dir("atomic");
  const fs::path path = dir / "out.bin";
  const std::vector<uint8_t> a = {1, 2, 3}, b(100000, 7);
  write_file_atomic(path, a);
  EXPECT_EQ(read_all(path), a);
  write_file_atomic(path, b);
  EXPECT_EQ(read_all(path), b);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicWrite, ParentIsAFile) {
  const fs::path dir = scratch_dir("atomic_parent");
  const fs::path file = dir / "plain";
  write_file_atomic(file, std::vector<uint8_t>{1});
  try {
    write_file_atomic(file / "model.stern", std::vector<uint8_t>{1, 2});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((file / "model.stern").string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_all(file), std::vector<uint8_t>{1});
}

// A write that fails halfway (here: the file size limit, as on a full disk) keeps the old
// file and removes the temporary one.
TEST(AtomicWrite, FailedWriteLeavesOldFileIntact) {
  const fs::path dir = scratch_dir("atomic_full");
  const fs::path path = dir / "model.stern";
  const std::vector<uint8_t> old(1000, 42);
  write_file_atomic(path, old);

  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  auto* previous = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = saved;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write_file_atomic(path, std::vector<uint8_t>(1 << 20, 9));
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  signal(SIGXFSZ, previous);

  EXPECT_NE(message.find(path.string()), std::string::npos) << message;
  EXPECT_EQ(read_all(path), old);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST(AtomicWrite, UnwritableDirectory) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  const fs::path dir = scratch_dir("atomic_ro");
  const fs::path path = dir / "model.stern";
  write_file_atomic(path, std::vector<uint8_t>{5});
  fs::permissions(dir, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(write_file_atomic(path, std::vector<uint8_t>{6}), Error);
  fs::permissions(dir, fs::perms::owner_all);
  EXPECT_EQ(read_all(path), std::vector<uint8_t>{5});
}

}  // namespace
}  // namespace stern
