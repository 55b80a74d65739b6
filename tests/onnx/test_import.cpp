// ONNX import: a small CNN built in memory, executed by the runtime and compared with a
// direct NCHW/OIHW scalar reference written here; error handling on bad models; .pb files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "onnx_builder.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/model_io.h"
#include "stern/onnx.h"
#include "stern/runtime.h"

namespace stern {
namespace {

using test::OnnxBuilder;
using test::random_floats;

constexpr int64_t kN = 2, kC = 3, kH = 8, kW = 8, kO = 4, kK = 3, kClasses = 5;
constexpr int64_t kFeatures = kO * (kH / 2) * (kW / 2);

struct CnnWeights {
  std::vector<float> conv_w = random_floats(kO * kC * kK * kK, 1, 0.5f);
  std::vector<float> conv_b = random_floats(kO, 2, 0.1f);
  std::vector<float> bn_scale = random_floats(kO, 3, 1.0f);
  std::vector<float> bn_bias = random_floats(kO, 4, 0.2f);
  std::vector<float> bn_mean = random_floats(kO, 5, 0.2f);
  std::vector<float> bn_var = {0.5f, 1.0f, 1.5f, 2.0f};
  std::vector<float> fc_w = random_floats(kClasses * kFeatures, 6, 0.2f);  // [out, in]
  std::vector<float> fc_b = random_floats(kClasses, 7, 0.1f);
};
constexpr float kAlpha = 0.5f, kBeta = 2.0f, kEps = 1e-3f;

// Conv(pad 1) -> BatchNormalization -> Relu -> MaxPool 2x2 -> Flatten -> Gemm(transB) -> Softmax
OnnxBuilder build_cnn(const CnnWeights& w, int64_t opset = 13) {
  OnnxBuilder b(opset);
  b.input("x", {-1, kC, kH, kW});
  b.init("conv.w", {kO, kC, kK, kK}, w.conv_w);
  b.init("conv.b", {kO}, w.conv_b);
  b.init("bn.s", {kO}, w.bn_scale);
  b.init("bn.b", {kO}, w.bn_bias);
  b.init("bn.m", {kO}, w.bn_mean);
  b.init("bn.v", {kO}, w.bn_var);
  b.init("fc.w", {kClasses, kFeatures}, w.fc_w);
  b.init("fc.b", {kClasses}, w.fc_b);
  auto* conv = b.node("Conv", {"x", "conv.w", "conv.b"}, {"c"}, "conv1");
  OnnxBuilder::attr(conv, "pads", std::vector<int64_t>{1, 1, 1, 1});
  OnnxBuilder::attr(conv, "kernel_shape", std::vector<int64_t>{kK, kK});
  auto* bn = b.node("BatchNormalization", {"c", "bn.s", "bn.b", "bn.m", "bn.v"}, {"bn"});
  OnnxBuilder::attr(bn, "epsilon", kEps);
  b.node("Relu", {"bn"}, {"r"});
  auto* pool = b.node("MaxPool", {"r"}, {"p"});
  OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(pool, "strides", std::vector<int64_t>{2, 2});
  b.node("Flatten", {"p"}, {"f"});
  b.node("Identity", {"f"}, {"f2"});
  auto* gemm = b.node("Gemm", {"f2", "fc.w", "fc.b"}, {"logits"}, "fc");
  OnnxBuilder::attr(gemm, "transB", int64_t{1});
  OnnxBuilder::attr(gemm, "alpha", kAlpha);
  OnnxBuilder::attr(gemm, "beta", kBeta);
  b.node("Softmax", {"logits"}, {"prob"});
  b.output("prob", {-1, kClasses});
  return b;
}

// Direct evaluation in NCHW with OIHW weights, in double.
std::vector<float> reference_cnn(const CnnWeights& w, const std::vector<float>& x) {
  std::vector<double> act(kN * kO * kH * kW);
  for (int64_t n = 0; n < kN; ++n)
    for (int64_t o = 0; o < kO; ++o)
      for (int64_t y = 0; y < kH; ++y)
        for (int64_t z = 0; z < kW; ++z) {
          double s = w.conv_b[o];
          for (int64_t c = 0; c < kC; ++c)
            for (int64_t ky = 0; ky < kK; ++ky)
              for (int64_t kx = 0; kx < kK; ++kx) {
                const int64_t iy = y + ky - 1, ix = z + kx - 1;
                if (iy < 0 || iy >= kH || ix < 0 || ix >= kW) continue;
                s += double(w.conv_w[((o * kC + c) * kK + ky) * kK + kx]) * x[((n * kC + c) * kH + iy) * kW + ix];
              }
          s = (s - w.bn_mean[o]) / std::sqrt(double(w.bn_var[o]) + kEps) * w.bn_scale[o] + w.bn_bias[o];
          act[((n * kO + o) * kH + y) * kW + z] = std::max(s, 0.0);
        }
  std::vector<float> out;
  for (int64_t n = 0; n < kN; ++n) {
    std::vector<double> feat;
    for (int64_t o = 0; o < kO; ++o)
      for (int64_t y = 0; y < kH; y += 2)
        for (int64_t z = 0; z < kW; z += 2) {
          const double* p = &act[((n * kO + o) * kH + y) * kW + z];
          feat.push_back(std::max({p[0], p[1], p[kW], p[kW + 1]}));
        }
    std::vector<double> logits(kClasses);
    double m = -1e30;
    for (int64_t k = 0; k < kClasses; ++k) {
      double s = 0;
      for (int64_t i = 0; i < kFeatures; ++i) s += double(w.fc_w[k * kFeatures + i]) * feat[i];
      logits[k] = kAlpha * s + kBeta * w.fc_b[k];
      m = std::max(m, logits[k]);
    }
    double sum = 0;
    for (double& l : logits) sum += l = std::exp(l - m);
    for (double l : logits) out.push_back(static_cast<float>(l / sum));
  }
  return out;
}

std::vector<float> run_graph(Graph g, const std::vector<float>& x) {
  Session session(std::move(g));
  auto out = session.run({FloatTensor{{kN, kC, kH, kW}, x}});
  EXPECT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{kN, kClasses}));
  return out[0].data;
}

std::string import_error(const OnnxBuilder& b) {
  try {
    import_onnx_from_memory(b.bytes(), "model.onnx", ".");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(OnnxImport, SmallCnnMatchesDirectReference) {
  const CnnWeights w;
  const auto x = random_floats(kN * kC * kH * kW, 11, 1.0f);
  const auto want = reference_cnn(w, x);
  for (int64_t opset : {7, 11, 13, 17}) {
    const Graph g = import_onnx_from_memory(build_cnn(w, opset).bytes(), "cnn.onnx", ".");
    ASSERT_EQ(g.inputs.size(), 1u);
    EXPECT_EQ(g.inputs[0].shape, (std::vector<int64_t>{-1, kC, kH, kW}));
    // Gemm with a constant B and a row bias becomes linear; the conv weight is OHWI.
    const Node* fc = nullptr;
    for (const Node& n : g.nodes) {
      if (n.name == "fc") fc = &n;
    }
    ASSERT_NE(fc, nullptr);
    EXPECT_EQ(fc->op, OpType::linear);
    const Tensor* conv_w = g.find_tensor(g.nodes[0].inputs[1]);
    ASSERT_NE(conv_w, nullptr);
    EXPECT_EQ(conv_w->shape, (std::vector<int64_t>{kO, kK, kK, kC}));
    const auto got = run_graph(g, x);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << "opset " << opset << " i " << i;
  }
}

TEST(OnnxImport, ExternalDataMatchesInline) {
  const CnnWeights w;
  const auto dir = std::filesystem::temp_directory_path() / "stern_onnx_external";
  std::filesystem::create_directories(dir);
  OnnxBuilder b = build_cnn(w);
  // Move fc.w out to weights.bin at offset 16.
  std::vector<char> blob(16, 0);
  for (auto& t : *b.graph->mutable_initializer()) {
    if (t.name() != "fc.w") continue;
    const char* p = reinterpret_cast<const char*>(t.float_data().data());
    blob.insert(blob.end(), p, p + t.float_data_size() * 4);
    t.clear_float_data();
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    auto* loc = t.add_external_data();
    loc->set_key("location");
    loc->set_value("weights.bin");
    auto* off = t.add_external_data();
    off->set_key("offset");
    off->set_value("16");
  }
  std::ofstream(dir / "weights.bin", std::ios::binary).write(blob.data(), static_cast<std::streamsize>(blob.size()));
  const auto model = b.bytes();
  std::ofstream(dir / "cnn.onnx", std::ios::binary).write(reinterpret_cast<const char*>(model.data()),
                                                          static_cast<std::streamsize>(model.size()));
  const auto x = random_floats(kN * kC * kH * kW, 12, 1.0f);
  const auto inline_out = run_graph(import_onnx_from_memory(build_cnn(w).bytes(), "cnn.onnx", "."), x);
  EXPECT_EQ(run_graph(open_model(dir / "cnn.onnx"), x), inline_out);

  // Truncated data file, and a location outside the model folder.
  std::filesystem::resize_file(dir / "weights.bin", 100);
  EXPECT_THROW(import_onnx(dir / "cnn.onnx"), Error);
  for (auto& t : *b.graph->mutable_initializer()) {
    if (t.name() == "fc.w") t.mutable_external_data(0)->set_value("../weights.bin");
  }
  EXPECT_NE(import_error(b).find("leaves the model folder"), std::string::npos) << import_error(b);
  std::filesystem::remove_all(dir);
}

TEST(OnnxImport, UnsupportedOperatorNamesNodeAndOp) {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.node("Tanh", {"x"}, {"y"}, "act7");
  b.output("y", {1, 4});
  const std::string e = import_error(b);
  EXPECT_NE(e.find("'act7'"), std::string::npos) << e;
  EXPECT_NE(e.find("Tanh"), std::string::npos) << e;
  EXPECT_NE(e.find("not supported"), std::string::npos) << e;
}

TEST(OnnxImport, UnsupportedAttributeNamesIt) {
  OnnxBuilder b;
  b.input("x", {1, 1, 6, 6});
  auto* pool = b.node("MaxPool", {"x"}, {"y"}, "pool3");
  OnnxBuilder::attr(pool, "kernel_shape", std::vector<int64_t>{2, 2});
  OnnxBuilder::attr(pool, "dilations", std::vector<int64_t>{2, 2});
  b.output("y", {1, 1, 4, 4});
  const std::string e = import_error(b);
  EXPECT_NE(e.find("pool3"), std::string::npos) << e;
  EXPECT_NE(e.find("MaxPool"), std::string::npos) << e;
  EXPECT_NE(e.find("'dilations'"), std::string::npos) << e;

  OnnxBuilder c;
  c.input("x", {1, 4});
  auto* relu = c.node("Relu", {"x"}, {"y"}, "r");
  OnnxBuilder::attr(relu, "bogus", int64_t{3});
  c.output("y", {1, 4});
  EXPECT_NE(import_error(c).find("attribute 'bogus' is not supported"), std::string::npos) << import_error(c);
}

// x -> QuantizeLinear -> DequantizeLinear -> `op` (Gemm or MatMul), the zero point of type
// `type` with values `zp` (one value: per tensor).
OnnxBuilder qdq_matmul(onnx::TensorProto::DataType type, const std::vector<int32_t>& zp,
                       const std::string& op = "Gemm") {
  OnnxBuilder b;
  b.input("x", {1, 4});
  b.init("s", {}, {0.05f});
  auto* z = b.graph->add_initializer();
  z->set_name("zp");
  z->set_data_type(type);
  if (zp.size() > 1) z->add_dims(static_cast<int64_t>(zp.size()));
  for (int32_t v : zp) z->add_int32_data(v);
  b.init("w", {4, 3}, random_floats(12, 5));
  b.node("QuantizeLinear", {"x", "s", "zp"}, {"xq"}, "quant");
  b.node("DequantizeLinear", {"xq", "s", "zp"}, {"xdq"}, "dequant");
  b.node(op, {"xdq", "w"}, {"y"}, "mm");
  b.output("y", {1, 3});
  return b;
}

TEST(OnnxImport, ZeroPointsBecomeActZeroPointOrAreRefusedByName) {
  for (const char* op : {"Gemm", "MatMul"}) {
    const OnnxBuilder ok = qdq_matmul(onnx::TensorProto::UINT8, {37}, op);
    const Graph g = import_onnx_from_memory(ok.bytes(), "qdq.onnx", ".");
    const auto mm = std::find_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.op == OpType::linear; });
    ASSERT_NE(mm, g.nodes.end()) << op;
    EXPECT_EQ(attr_int(mm->attrs, "act_zero_point", 0), 37) << op;
    EXPECT_EQ(attr_int(mm->attrs, "act_signed", 1), 0) << op;
  }

  const std::string low = import_error(qdq_matmul(onnx::TensorProto::INT8, {-128}));
  EXPECT_NE(low.find("'quant'"), std::string::npos) << low;
  EXPECT_NE(low.find("int8 zero point -128 is not supported"), std::string::npos) << low;
  const std::string per_axis = import_error(qdq_matmul(onnx::TensorProto::UINT8, {1, 2, 3, 4}));
  EXPECT_NE(per_axis.find("per-axis zero point 'zp'"), std::string::npos) << per_axis;
}

TEST(OnnxImport, MissingInitializerIsAnError) {
  OnnxBuilder b;
  b.input("x", {1, 1, 4, 4});
  b.node("Conv", {"x", "w_missing"}, {"y"}, "conv");
  b.output("y", {1, 1, 2, 2});
  const std::string e = import_error(b);
  EXPECT_NE(e.find("w_missing"), std::string::npos) << e;
}

TEST(OnnxImport, ShapeContradictionIsAnError) {
  OnnxBuilder b;
  b.input("x", {1, 3, 8, 8});
  b.init("w", {2, 3, 3, 3}, random_floats(54, 1));
  b.node("Conv", {"x", "w"}, {"y"}, "conv");
  b.output("y", {1, 2, 8, 8});  // a 3x3 conv without padding gives 6x6
  const std::string e = import_error(b);
  EXPECT_NE(e.find("'y'"), std::string::npos) << e;
  EXPECT_NE(e.find("[1, 2, 6, 6]"), std::string::npos) << e;

  OnnxBuilder c;
  c.input("x", {1, 4, 8, 8});  // 4 channels, weight wants 3
  c.init("w", {2, 3, 3, 3}, random_floats(54, 1));
  c.node("Conv", {"x", "w"}, {"y"}, "conv");
  c.output("y", {1, 2, 6, 6});
  EXPECT_THROW(import_onnx_from_memory(c.bytes(), "m.onnx", "."), Error);
}

TEST(OnnxImport, MalformedProtobufNeverCrashes) {
  const auto good = build_cnn(CnnWeights{}).bytes();
  EXPECT_THROW(import_onnx_from_memory(std::vector<uint8_t>{0xff, 0xff, 0xff, 0x0f, 0x12}, "junk.onnx", "."), Error);
  std::mt19937 rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 200; ++trial) {
    auto bytes = good;
    if (trial % 2) {
      bytes.resize(rng() % bytes.size());
    } else {
      for (int k = 0; k < 8; ++k) bytes[rng() % bytes.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    try {
      import_onnx_from_memory(bytes, "fuzzed.onnx", ".");
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 100);
}

TEST(OnnxImport, ReshapeMatMulMulClipConcat) {
  // x [2, 6] -> Reshape [0, 2, 3] -> MatMul with [3, 4] constant -> Mul by y -> Clip(-0.5, 0.5)
  // -> Concat with itself on axis -1.
  OnnxBuilder b(13);
  b.input("x", {2, 6});
  b.input("s", {2, 2, 4});
  b.init_ints("shape", {0, 2, 3});
  const auto bw = random_floats(12, 3);
  b.init("B", {3, 4}, bw);
  b.init("lo", {}, {-0.5f});
  b.init("hi", {}, {0.5f});
  b.node("Reshape", {"x", "shape"}, {"r"});
  b.node("MatMul", {"r", "B"}, {"m"});
  b.node("Mul", {"m", "s"}, {"p"});
  b.node("Clip", {"p", "lo", "hi"}, {"c"});
  auto* cat = b.node("Concat", {"c", "c"}, {"y"});
  OnnxBuilder::attr(cat, "axis", int64_t{-1});
  b.output("y", {2, 2, 8});
  const auto x = random_floats(12, 4, 2.0f);
  const auto s = random_floats(16, 5, 2.0f);
  Session session(import_onnx_from_memory(b.bytes(), "m.onnx", "."));
  const auto out = session.run({FloatTensor{{2, 6}, x}, FloatTensor{{2, 2, 4}, s}});
  ASSERT_EQ(out[0].shape, (std::vector<int64_t>{2, 2, 8}));
  for (int64_t i = 0; i < 4; ++i) {   // rows of the reshaped [4, 3] view
    for (int64_t j = 0; j < 4; ++j) {
      double m = 0;
      for (int64_t k = 0; k < 3; ++k) m += double(x[i * 3 + k]) * bw[k * 4 + j];
      const double want = std::clamp(m * s[i * 4 + j], -0.5, 0.5);
      EXPECT_NEAR(out[0].data[i * 8 + j], want, 1e-6);
      EXPECT_NEAR(out[0].data[i * 8 + 4 + j], want, 1e-6);
    }
  }
}

TEST(OnnxExport, ImportExportImportGivesTheSameOutputs) {
  const CnnWeights w;
  const auto x = random_floats(kN * kC * kH * kW, 13, 1.0f);
  const Graph g1 = import_onnx_from_memory(build_cnn(w).bytes(), "cnn.onnx", ".");
  const Graph g2 = import_onnx_from_memory(export_onnx_bytes(g1), "exported.onnx", ".");
  ASSERT_EQ(g2.nodes.size(), g1.nodes.size());
  const auto a = run_graph(g1, x), b = run_graph(g2, x);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << i;
}

// An FGQ model with 8-bit signed and 4-bit unsigned activations: exported with FP32 weights
// and Q/DQ (+ Clip) activations, re-imported with the same quantizers, same outputs.
TEST(OnnxExport, QuantizedModelRoundTripsThroughQdq) {
  const CnnWeights w;
  const Graph fp32 = import_onnx_from_memory(build_cnn(w).bytes(), "cnn.onnx", ".");
  FgqOptions options;
  options.group = 2;
  options.first_last_bits = 2;
  Graph q = fgq_quantize_weights(fp32, options, nullptr);
  for (Node& n : q.nodes) {
    if (n.op == OpType::conv2d) n.attrs.insert({{"act_bits", int64_t{8}}, {"act_scale", 1.0 / 127}, {"act_signed", int64_t{1}}});
    if (n.op == OpType::linear) n.attrs.insert({{"act_bits", int64_t{4}}, {"act_scale", 0.125}, {"act_signed", int64_t{0}}});
  }
  const auto bytes = export_onnx_bytes(q);
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  int qdq = 0;
  for (const auto& n : model.graph().node()) qdq += n.op_type() == "QuantizeLinear" || n.op_type() == "DequantizeLinear";
  EXPECT_EQ(qdq, 4);
  const Graph back = import_onnx_from_memory(bytes, "qdq.onnx", ".");
  for (const Node& n : back.nodes) {
    if (n.op == OpType::conv2d) {
      EXPECT_EQ(attr_int(n.attrs, "act_bits", 0), 8);
      EXPECT_EQ(attr_int(n.attrs, "act_signed", 0), 1);
      EXPECT_NEAR(attr_float(n.attrs, "act_scale", 0), 1.0 / 127, 1e-9);
    }
    if (n.op == OpType::linear) {
      EXPECT_EQ(attr_int(n.attrs, "act_bits", 0), 4);
      EXPECT_EQ(attr_int(n.attrs, "act_signed", 0), 0);
      EXPECT_NEAR(attr_float(n.attrs, "act_scale", 0), 0.125, 1e-9);
    }
  }
  const auto x = random_floats(kN * kC * kH * kW, 14, 1.0f);
  SessionOptions ref;
  ref.reference_only = true;
  const auto a = Session(q, ref).run({FloatTensor{{kN, kC, kH, kW}, x}})[0].data;
  const auto b = Session(back, ref).run({FloatTensor{{kN, kC, kH, kW}, x}})[0].data;
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << i;

  q.nodes[0].attrs["act_bits"] = int64_t{12};
  EXPECT_THROW(export_onnx_bytes(q), Error);
}

TEST(TensorPb, RoundTripAndErrors) {
  const auto dir = std::filesystem::temp_directory_path();
  const FloatTensor t{{2, 3}, {1, -2, 3.5f, 4, 5, 6}};
  write_tensor_file(dir / "stern_t.pb", t);
  const FloatTensor r = read_tensor_file(dir / "stern_t.pb");
  EXPECT_EQ(r.shape, t.shape);
  EXPECT_EQ(r.data, t.data);
  onnx::TensorProto ints;
  ints.set_data_type(onnx::TensorProto::INT64);
  ints.add_dims(1);
  ints.add_int64_data(3);
  const std::string s = ints.SerializeAsString();
  try {
    parse_tensor_pb({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, "ints.pb");
    ADD_FAILURE() << "INT64 tensor accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("INT64"), std::string::npos) << e.what();
  }
  onnx::TensorProto short_raw;
  short_raw.set_data_type(onnx::TensorProto::FLOAT);
  short_raw.add_dims(4);
  short_raw.set_raw_data(std::string(12, '\0'));
  const std::string s2 = short_raw.SerializeAsString();
  EXPECT_THROW(parse_tensor_pb({reinterpret_cast<const uint8_t*>(s2.data()), s2.size()}, "short.pb"), Error);
  std::filesystem::remove(dir / "stern_t.pb");
}

}  // namespace
}  // namespace stern
