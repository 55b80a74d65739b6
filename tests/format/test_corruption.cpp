// The corruption corpus through the library and through the real `stern info` binary, and
// random mutations behind the checksums: every broken file gives one clear stern::Error line
// naming the file, and the CLI exits 1 (not by a signal, not a sanitizer report).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "format/container.h"
#include "format/corpus.h"
#include "format/test_models.h"
#include "stern/error.h"
#include "stern/format.h"

namespace stern {
namespace {

namespace fs = std::filesystem;

fs::path corpus_dir() {
  const fs::path dir = fs::path(STERN_BINARY_DIR) / "tests" / "format" / "corrupt";
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

struct CliResult {
  int exit_code = -1;  // -1: did not exit normally (signal)
  std::string output;  // stdout and stderr
};

CliResult run_cli(const std::string& args) {
  const std::string command = std::string(STERN_CLI) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  CliResult r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

TEST(Corruption, CorpusIsLargeAndDistinct) {
  const auto corpus = test::corruption_corpus();
  EXPECT_GE(corpus.size(), 20u);
  std::set<std::string> names;
  std::set<std::string> contents;
  for (const auto& c : corpus) {
    EXPECT_TRUE(names.insert(c.name).second) << c.name;
    EXPECT_TRUE(contents.emplace(c.bytes.begin(), c.bytes.end()).second) << c.name << " duplicates another corruption";
  }
  // The unmodified model loads.
  EXPECT_NO_THROW(load_model_from_memory(test::valid_model_bytes(), "valid"));
}

TEST(Corruption, EachGivesOneLineErrorForItsReason) {
  for (const auto& c : test::corruption_corpus()) {
    const std::string name = c.name + ".stern";
    try {
      load_model_from_memory(c.bytes, name);
      ADD_FAILURE() << c.name << ": loaded without error";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(name + ": ", 0), 0u) << c.name << ": " << msg;
      EXPECT_NE(msg.find(c.expect), std::string::npos) << c.name << ": expected '" << c.expect << "' in: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << c.name << ": " << msg;
    }
  }
}

TEST(Corruption, SternInfoExitsWithOneLineNamingTheFile) {
  const fs::path dir = corpus_dir();
  const fs::path valid = dir / "valid.stern";
  write_bytes(valid, test::valid_model_bytes());
  const CliResult ok = run_cli("info " + valid.string());
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  for (const auto& c : test::corruption_corpus()) {
    const fs::path file = dir / (c.name + ".stern");
    write_bytes(file, c.bytes);
    EXPECT_THROW(load_model(file), Error) << c.name;
    const CliResult r = run_cli("info " + file.string());
    EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.output;
    EXPECT_EQ(r.output.rfind("stern: error: " + file.string() + ": ", 0), 0u) << c.name << ": " << r.output;
    EXPECT_NE(r.output.find(c.expect), std::string::npos) << c.name << ": " << r.output;
    // Exactly one line: no second message, no sanitizer report.
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << c.name << ": " << r.output;
  }
}

TEST(Corruption, SternInfoJsonDescribesTheModel) {
  const fs::path file = corpus_dir() / "valid_json.stern";
  const Graph g = test::every_op_graph();
  save_model(g, file);
  const CliResult r = run_cli("info --json " + file.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["file_bytes"].get<uint64_t>(), fs::file_size(file));
  ASSERT_EQ(j["nodes"].size(), g.nodes.size());
  EXPECT_EQ(j["nodes"][0]["op"], "conv2d");
  EXPECT_EQ(j["nodes"][0]["attributes"]["activation"], "relu");
  ASSERT_EQ(j["tensors"].size(), g.tensors.size());
  uint64_t bytes = 0;
  for (size_t i = 0; i < g.tensors.size(); ++i) {
    const auto& t = j["tensors"][i];
    EXPECT_EQ(t["name"], g.tensors[i].name);
    EXPECT_EQ(t["shape"].get<std::vector<int64_t>>(), g.tensors[i].shape);
    EXPECT_EQ(t["encoding"], encoding_traits(g.tensors[i].encoding).name);
    EXPECT_EQ(t["bytes"].get<uint64_t>(), g.tensors[i].payload.size());
    const double sparsity = t["sparsity"].get<double>();
    EXPECT_GE(sparsity, 0.0);
    EXPECT_LE(sparsity, 1.0);
    bytes += g.tensors[i].payload.size();
  }
  EXPECT_EQ(j["totals"]["tensor_bytes"].get<uint64_t>(), bytes);

  // The runtime's plan: one entry per executed layer, naming graph nodes, and for weight
  // layers the encoding of the node's weight tensor.
  ASSERT_TRUE(j["plan"].contains("layers")) << j["plan"].dump();
  EXPECT_FALSE(j["plan"]["layers"].empty());
  for (const auto& layer : j["plan"]["layers"]) {
    const auto node = std::find_if(g.nodes.begin(), g.nodes.end(),
                                   [&](const Node& n) { return n.name == layer["node"]; });
    ASSERT_NE(node, g.nodes.end()) << layer.dump();
    EXPECT_FALSE(layer["kernel"].get<std::string>().empty()) << layer.dump();
    if (node->op == OpType::conv2d || node->op == OpType::linear) {
      EXPECT_EQ(layer["encoding"], encoding_traits(g.find_tensor(node->inputs[1])->encoding).name) << layer.dump();
    }
  }
}

// Mutations behind the checksums (as the fuzzer runs the reader): random byte edits either load
// or give a stern::Error; any other exception or a crash fails.
TEST(Corruption, RandomMutationsBehindChecksums) {
  const std::vector<uint8_t> valid = test::valid_model_bytes();
  std::mt19937 rng(1234);
  int rejected = 0;
  constexpr int kTrials = 3000;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<uint8_t> b = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      // Mostly the preamble and header, where the structure is.
      const size_t limit = rng() % 4 == 0 ? b.size() : std::min<size_t>(b.size(), 64 + 2048);
      b[rng() % limit] = static_cast<uint8_t>(rng());
    }
    if (rng() % 8 == 0) b.resize(rng() % b.size());
    try {
      format::load(b, "mutated", nullptr, {.verify_checksums = false});
    } catch (const Error&) {
      ++rejected;
    } catch (const std::exception& e) {
      FAIL() << "trial " << trial << ": non-stern exception: " << e.what();
    }
  }
  EXPECT_GT(rejected, kTrials / 2);
}

}  // namespace
}  // namespace stern
