// A model written by PyTorch's own ONNX exporter (tests/onnx/export_torch_cnn.py, run with
// Debian's /usr/bin/python3 at test time), imported and run by stern, matched against the
// output PyTorch computed; stern's export of it passes onnx.checker and re-imports.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include <sys/wait.h>

#include "stern/model_io.h"
#include "stern/onnx.h"
#include "stern/runtime.h"

namespace stern {
namespace {

TEST(OnnxTorchExport, PyTorchExportedCnnMatchesPyTorch) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "stern_torch_export";
  const std::string cmd = "/usr/bin/python3 " STERN_SOURCE_DIR "/tests/onnx/export_torch_cnn.py " + dir.string();
  const int status = std::system(cmd.c_str());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) GTEST_SKIP() << "Debian python3-torch / python3-onnx missing";
  ASSERT_EQ(status, 0) << cmd;

  Graph graph = open_model(dir / "cnn.onnx");
  ASSERT_EQ(graph.inputs.size(), 1u);
  EXPECT_EQ(graph.inputs[0].shape[0], -1) << "the exported batch axis is dynamic";
  const FloatTensor x = read_tensor_file(dir / "input_0.pb");
  const FloatTensor want = read_tensor_file(dir / "output_0.pb");
  for (bool reference : {false, true}) {
    SessionOptions options;
    options.reference_only = reference;
    Session session(graph, options);
    const auto got = session.run({x});
    ASSERT_EQ(got.at(0).shape, want.shape);
    for (size_t i = 0; i < want.data.size(); ++i) {
      EXPECT_NEAR(got[0].data[i], want.data[i], 1e-5 + 1e-4 * std::abs(want.data[i])) << i;
    }
  }
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

}  // namespace
}  // namespace stern
