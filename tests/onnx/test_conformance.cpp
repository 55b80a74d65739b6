// Conformance against the ONNX project's own test data (Debian libonnx-testdata): every case
// in data/node and data/pytorch-converted whose model stern can import is run on every one of
// its test_data_set_* and compared with the stored outputs at the ONNX backend tests'
// tolerances. Weights given as graph inputs are baked into the model (see bake_inputs).
// Cases are skipped only when the importer refuses them as unsupported (an
// operator, attribute or data type outside docs/ONNX.md) or an input is not float32; any
// other error, and any mismatch, is a failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <onnx/onnx_pb.h>

#include "stern/error.h"
#include "stern/onnx.h"
#include "stern/runtime.h"

namespace stern {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTestDataRoot = "/usr/share/libonnx-testdata/data";
// onnx/backend/test/runner: rtol 1e-3, atol 1e-7 unless a case overrides them.
constexpr double kRtol = 1e-3, kAtol = 1e-7;

enum class Outcome { pass, skip, fail };

struct CaseResult {
  Outcome outcome;
  std::string detail;
};

bool is_unsupported(const std::string& message) {
  return message.find("not supported") != std::string::npos;
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) files.push_back(e.path());
  }
  // input_10.pb sorts after input_9.pb
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    const auto na = std::stoi(a.stem().string().substr(prefix.size()));
    const auto nb = std::stoi(b.stem().string().substr(prefix.size()));
    return na < nb;
  });
  return files;
}

std::string compare(const FloatTensor& got, const FloatTensor& want, size_t index) {
  if (got.data.size() != want.data.size() ||
      (got.shape != want.shape && !(got.shape.empty() && want.data.size() == 1))) {
    auto str = [](const std::vector<int64_t>& s) {
      std::string r;
      for (int64_t d : s) r += std::to_string(d) + " ";
      return r;
    };
    return "output " + std::to_string(index) + " shape [" + str(got.shape) + "] expected [" + str(want.shape) + "]";
  }
  for (size_t i = 0; i < got.data.size(); ++i) {
    const double g = got.data[i], w = want.data[i];
    const bool both_nan = std::isnan(g) && std::isnan(w);
    if (!both_nan && !(std::abs(g - w) <= kAtol + kRtol * std::abs(w))) {
      return "output " + std::to_string(index) + " element " + std::to_string(i) + ": got " +
             std::to_string(g) + ", expected " + std::to_string(w);
    }
  }
  return "";
}

struct DataSet {
  std::string name;
  std::vector<onnx::TensorProto> inputs;
  std::vector<onnx::TensorProto> expected;
};

onnx::TensorProto read_proto(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::TensorProto t;
  if (!t.ParseFromIstream(&in)) throw Error(path.string() + ": not a TensorProto");
  return t;
}

FloatTensor to_float(const onnx::TensorProto& t, const std::string& name) {
  const std::string bytes = t.SerializeAsString();
  return parse_tensor_pb({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, name);
}

// stern takes weights, BatchNorm statistics, clip bounds and reshape targets only as
// constants, while the node tests pass them as graph inputs. For those cases the runner
// bakes every input after the first into the model as an initializer, per data set, when
// the model as given is refused as unsupported.
std::vector<uint8_t> bake_inputs(onnx::ModelProto model, const DataSet& set) {
  auto* g = model.mutable_graph();
  std::vector<std::string> names;
  for (const auto& in : g->input()) {
    bool is_init = false;
    for (const auto& init : g->initializer()) is_init |= init.name() == in.name();
    if (!is_init) names.push_back(in.name());
  }
  if (names.size() != set.inputs.size()) throw Error("input count differs from the data set");
  for (size_t i = 1; i < names.size(); ++i) {
    auto* init = g->add_initializer();
    *init = set.inputs[i];
    init->set_name(names[i]);
    for (int k = 0; k < g->input_size(); ++k) {
      if (g->input(k).name() == names[i]) {
        g->mutable_input()->DeleteSubrange(k, 1);
        break;
      }
    }
  }
  const std::string s = model.SerializeAsString();
  return {s.begin(), s.end()};
}

CaseResult run_case(const fs::path& dir) {
  std::vector<DataSet> sets;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_directory() || e.path().filename().string().rfind("test_data_set_", 0) != 0) continue;
    DataSet set{e.path().filename().string(), {}, {}};
    for (const auto& p : sorted_files(e.path(), "input_")) set.inputs.push_back(read_proto(p));
    for (const auto& p : sorted_files(e.path(), "output_")) set.expected.push_back(read_proto(p));
    sets.push_back(std::move(set));
  }
  if (sets.empty()) return {Outcome::fail, "no test_data_set_*"};

  bool baked = false;
  std::string first_error;
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(import_onnx(dir / "model.onnx"));
  } catch (const Error& e) {
    if (!is_unsupported(e.what())) return {Outcome::fail, e.what()};
    baked = true;
    first_error = e.what();
  }
  onnx::ModelProto model;
  if (baked) {
    std::ifstream in(dir / "model.onnx", std::ios::binary);
    if (!model.ParseFromIstream(&in)) return {Outcome::fail, "model.onnx does not parse"};
  }
  for (const DataSet& set : sets) {
    std::vector<FloatTensor> inputs, expected;
    try {
      if (baked) {
        session = std::make_unique<Session>(import_onnx_from_memory(bake_inputs(model, set), dir.string(), dir));
        inputs.push_back(to_float(set.inputs.at(0), set.name + "/input_0.pb"));
      } else {
        for (size_t i = 0; i < set.inputs.size(); ++i) {
          inputs.push_back(to_float(set.inputs[i], set.name + "/input_" + std::to_string(i) + ".pb"));
        }
      }
      for (size_t i = 0; i < set.expected.size(); ++i) {
        expected.push_back(to_float(set.expected[i], set.name + "/output_" + std::to_string(i) + ".pb"));
      }
    } catch (const Error& e) {
      if (!is_unsupported(e.what())) return {Outcome::fail, e.what()};
      return {Outcome::skip, first_error.empty() ? e.what() : first_error};
    }
    try {
      const auto outputs = session->run(inputs);
      if (outputs.size() != expected.size()) return {Outcome::fail, "output count differs"};
      for (size_t i = 0; i < outputs.size(); ++i) {
        const std::string diff = compare(outputs[i], expected[i], i);
        if (!diff.empty()) return {Outcome::fail, set.name + ": " + diff};
      }
    } catch (const Error& e) {
      return {Outcome::fail, set.name + ": " + e.what()};
    }
  }
  return {Outcome::pass, baked ? "baked" : ""};
}

TEST(OnnxConformance, SupportedCasesMatchStoredOutputs) {
  if (!fs::exists(kTestDataRoot)) GTEST_SKIP() << kTestDataRoot << " missing (Debian libonnx-testdata)";
  int pass = 0, skip = 0, failed = 0;
  std::map<std::string, int> skip_reasons;
  for (const char* suite : {"node", "pytorch-converted"}) {
    std::vector<fs::path> cases;
    for (const auto& e : fs::directory_iterator(fs::path(kTestDataRoot) / suite)) {
      if (fs::exists(e.path() / "model.onnx")) cases.push_back(e.path());
    }
    std::sort(cases.begin(), cases.end());
    for (const auto& dir : cases) {
      const CaseResult r = run_case(dir);
      const std::string name = std::string(suite) + "/" + dir.filename().string();
      if (r.outcome == Outcome::pass) {
        ++pass;
      } else if (r.outcome == Outcome::skip) {
        ++skip;
        if (std::getenv("STERN_CONFORMANCE_VERBOSE")) std::printf("skip %s: %s\n", name.c_str(), r.detail.c_str());
        // "...: node 0 'x' (Tanh): operator 'Tanh' is not supported" -> the part after the node.
        const auto colon = r.detail.rfind("): ");
        ++skip_reasons[colon == std::string::npos ? r.detail : r.detail.substr(colon + 3)];
      } else {
        ++failed;
        ADD_FAILURE() << name << ": " << r.detail;
      }
    }
  }
  std::printf("ONNX conformance: %d pass, %d skip (unsupported), %d fail\n", pass, skip, failed);
  std::vector<std::pair<int, std::string>> top;
  for (const auto& [reason, n] : skip_reasons) top.emplace_back(n, reason);
  std::sort(top.rbegin(), top.rend());
  for (size_t i = 0; i < std::min<size_t>(top.size(), 10); ++i) {
    std::printf("  skip x%d: %s\n", top[i].first, top[i].second.c_str());
  }
  EXPECT_EQ(failed, 0);
  // The supported subset must actually be exercised (Conv, Gemm, pools, BN, ... cases).
  EXPECT_GE(pass, 60);
}

}  // namespace
}  // namespace stern
