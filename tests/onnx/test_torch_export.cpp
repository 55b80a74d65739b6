// A model written by PyTorch's own ONNX exporter (tests/onnx/export_torch_cnn.py, run with
// Debian's /usr/bin/python3 at test time), imported and run by stern, matched against the
// output PyTorch computed; stern's export of it passes onnx.checker and re-imports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <sys/wait.h>

#include "stern/fgq.h"
#include "stern/model_io.h"
#include "stern/onnx.h"
#include "stern/runtime.h"

namespace stern {
namespace {

namespace fs = std::filesystem;

// Runs export_torch_cnn.py into `dir` with `flags`; false when torch or onnx is missing.
bool export_with_torch(const fs::path& dir, const std::string& flags) {
  const std::string cmd =
      "/usr/bin/python3 " STERN_SOURCE_DIR "/tests/onnx/export_torch_cnn.py " + dir.string() + " " + flags;
  const int status = std::system(cmd.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) return false;
  EXPECT_EQ(status, 0) << cmd;
  return true;
}

// Runs `graph` on `x` on the automatic kernels, then on the reference path: every output value
// within atol + 1e-4 |want| of PyTorch's `want`. Returns the automatic session's plan.
std::vector<LayerPlan> expect_pytorchs_outputs(const Graph& graph, const FloatTensor& x, const FloatTensor& want,
                                               double atol) {
  std::vector<LayerPlan> plan;
  for (bool reference : {false, true}) {
    SessionOptions options;
    options.reference_only = reference;
    Session session(graph, options);
    if (!reference) plan = session.plan();
    const auto got = session.run({x});
    if (got.at(0).shape != want.shape) {
      ADD_FAILURE() << "output shape differs from PyTorch's, reference " << reference;
      continue;
    }
    for (size_t i = 0; i < want.data.size(); ++i)
      EXPECT_NEAR(got[0].data[i], want.data[i], atol + 1e-4 * std::abs(want.data[i])) << i << " reference " << reference;
  }
  return plan;
}

TEST(OnnxTorchExport, PyTorchExportedCnnMatchesPyTorch) {
  const fs::path dir = fs::temp_directory_path() / "stern_torch_export";
  if (!export_with_torch(dir, "")) GTEST_SKIP() << "Debian python3-torch / python3-onnx missing";
  ASSERT_FALSE(testing::Test::HasFailure());

  Graph graph = open_model(dir / "cnn.onnx");
  ASSERT_EQ(graph.inputs.size(), 1u);
  EXPECT_EQ(graph.inputs[0].shape[0], -1) << "the exported batch axis is dynamic";
  const FloatTensor x = read_tensor_file(dir / "input_0.pb");
  const FloatTensor want = read_tensor_file(dir / "output_0.pb");
  expect_pytorchs_outputs(graph, x, want, 1e-5);
  // stern's export of the imported model passes the ONNX project's own checker (with its
  // shape inference) and imports back to the same outputs.
  export_onnx(graph, dir / "exported.onnx");
  const std::string check = "/usr/bin/python3 -c \"import onnx; onnx.checker.check_model(onnx.load('" +
                            (dir / "exported.onnx").string() + "'), full_check=True)\"";
  EXPECT_EQ(std::system(check.c_str()), 0) << check;
  const auto again = Session(open_model(dir / "exported.onnx")).run({x});
  for (size_t i = 0; i < want.data.size(); ++i) EXPECT_NEAR(again[0].data[i], want.data[i], 1e-5 + 1e-4 * std::abs(want.data[i]));
  fs::remove_all(dir);
}

// Asymmetric activations: PyTorch's fake quantizers with uint8 zero points 100, 20 and 128,
// exported as QuantizeLinear -> DequantizeLinear, become act_zero_point; the weights (ternary
// per output channel in PyTorch) are ternarized losslessly, so the integer kernels must give
// PyTorch's logits.
TEST(OnnxTorchExport, ZeroPointActivationsOnIntegerKernelsMatchPyTorch) {
  const fs::path dir = fs::temp_directory_path() / "stern_torch_export_qdq";
  if (!export_with_torch(dir, "--qdq")) GTEST_SKIP() << "Debian python3-torch / python3-onnx missing";
  ASSERT_FALSE(testing::Test::HasFailure());
  const Graph imported = open_model(dir / "cnn.onnx");
  std::vector<int64_t> zero_points;
  for (const Node& n : imported.nodes) {
    if (n.op == OpType::conv2d || n.op == OpType::linear) zero_points.push_back(attr_int(n.attrs, "act_zero_point", 0));
  }
  EXPECT_EQ(zero_points, (std::vector<int64_t>{100, 20, 128}));
  FgqOptions options;
  options.group = 0;
  options.first_last_bits = 2;
  FgqReport report;
  const Graph graph = fgq_quantize_weights(imported, options, &report);
  for (const FgqLayerReport& l : report.layers) EXPECT_LT(l.relative_l2_error, 1e-6) << l.node;

  const FloatTensor x = read_tensor_file(dir / "input_0.pb");
  const FloatTensor want = read_tensor_file(dir / "output_0.pb");
  for (const LayerPlan& p : expect_pytorchs_outputs(graph, x, want, 1e-4)) {
    if (p.op.rfind("conv2d", 0) == 0 || p.op.rfind("linear", 0) == 0) {
      EXPECT_EQ(p.kernel.find("f32"), std::string::npos) << p.node << " ran on " << p.kernel;
    }
  }
  // The zero points survive stern's ONNX export.
  const Graph again = import_onnx_from_memory(export_onnx_bytes(graph), "exported.onnx", ".");
  for (const Node& n : again.nodes) {
    if (n.op == OpType::conv2d || n.op == OpType::linear) {
      EXPECT_NE(attr_int(n.attrs, "act_zero_point", 0), 0) << n.name;
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace stern
