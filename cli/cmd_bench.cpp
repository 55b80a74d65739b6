// stern bench: what the kernels give on this machine.
//   stern bench model.stern            batch-1 latency and batch-64 throughput, 1 and 2 threads
//   stern bench --layer conv:256x256x3x3@14x14 --encoding sparse-ternary --sparsity 0.9
//   stern bench --layer fc:4096x4096 --encoding ternary
// A --layer run synthesizes a one-node model (random weights of that sparsity, 8-bit
// unsigned activations) and times it through the same Session and kernel choice as a real
// model; --kernel forces a provider (SessionOptions::kernel_override).
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "command.h"
#include "stern/cpu_features.h"
#include "stern/error.h"
#include "stern/model_io.h"
#include "stern/model_stats.h"
#include "stern/runtime.h"
#include "stern/shape.h"

namespace stern::cli {
namespace {

struct BenchOptions {
  std::string model;
  std::string layer;
  std::string encoding = "sparse-ternary";
  std::string kernel;
  double sparsity = 0.0;
  int act_bits = 8;
  int threads = 0;  // 0: 1 and 2
  int batch = 0;    // 0: 1 and 64
  double min_time_s = 0.5;
  bool profile = false;
  bool json = false;
};

// The --encoding spellings: the issue's words and the encoding table's names.
Encoding parse_encoding(const std::string& name) {
  if (name == "ternary" || name == "dense-ternary") return Encoding::ternary2;
  if (name == "sparse-ternary") return Encoding::ternary_sparse;
  if (name == "int8") return Encoding::i8;
  if (name == "signed-binary") return Encoding::signed_binary;
  for (const EncodingTraits& t : all_encodings())
    if (name == t.name) return t.id;
  fail("--encoding " + name, "unknown, expected ternary, sparse-ternary, int8, signed-binary, binary, f32 "
                             "or an encoding table name (ternary2, ternary_sparse, i8, signed_binary)");
}

struct SyntheticLayer {
  bool conv = false;
  int64_t in = 0, out = 0, kh = 1, kw = 1, h = 1, w = 1, stride = 1;
  // Output side of a "same"-padded convolution (padding kernel / 2) at the stride.
  static int64_t out_side(int64_t side, int64_t k, int64_t stride) { return (side + 2 * (k / 2) - k) / stride + 1; }
  double macs() const { return double(out) * in * kh * kw * out_side(h, kh, stride) * out_side(w, kw, stride); }
};

SyntheticLayer parse_layer(const std::string& spec) {
  static const std::regex conv(R"(conv:(\d+)x(\d+)x(\d+)x(\d+)@(\d+)x(\d+)(?:/s(\d+))?)"), fc(R"(fc:(\d+)x(\d+))");
  std::smatch m;
  SyntheticLayer l;
  const auto num = [&](int i) {
    const int64_t v = std::stoll(m[i].str());
    if (v < 1 || v > (1 << 20)) fail("--layer " + spec, "dimension " + m[i].str() + " out of range 1..1048576");
    return v;
  };
  if (std::regex_match(spec, m, conv)) {
    l.conv = true;
    l.in = num(1), l.out = num(2), l.kh = num(3), l.kw = num(4), l.h = num(5), l.w = num(6);
    if (m[7].matched) l.stride = num(7);
  } else if (std::regex_match(spec, m, fc)) {
    l.in = num(1), l.out = num(2);
  } else {
    fail("--layer " + spec, "expected conv:<in>x<out>x<kh>x<kw>@<h>x<w>[/s<stride>] or fc:<in>x<out>");
  }
  return l;
}

// Random codes at `sparsity` in the alphabet of `e` (signed-binary: one sign per row).
WeightMatrix random_weights(Encoding e, int64_t rows, int64_t cols, double sparsity) {
  const EncodingTraits& t = encoding_traits(e);
  std::mt19937 rng(1);
  std::bernoulli_distribution zero(sparsity), coin(0.5);
  std::uniform_int_distribution<int> code(t.min_code, t.max_code);
  WeightMatrix m;
  m.rows = rows, m.cols = cols, m.group = cols;
  m.codes.resize(rows * cols);
  m.values.clear();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      int8_t& v = m.codes[r * cols + c];
      if (e == Encoding::binary) v = coin(rng) ? 1 : -1;
      else if (e == Encoding::signed_binary) v = zero(rng) ? 0 : (r % 2 ? -1 : 1);
      else if (!zero(rng)) do v = static_cast<int8_t>(code(rng)); while (v == 0);
    }
  if (e == Encoding::f32) {
    m.values.resize(rows * cols);
    for (int64_t i = 0; i < rows * cols; ++i) m.values[i] = 0.01f * m.codes[i];
  }
  m.scale_pos.assign(rows, 0.01f);
  m.scale_neg = m.scale_pos;
  return m;
}

Graph synthesize(const SyntheticLayer& l, Encoding e, double sparsity, int act_bits) {
  Graph g;
  const int64_t cols = l.in * l.kh * l.kw;
  const WeightMatrix w = random_weights(e, l.out, cols, sparsity);
  const std::vector<int64_t> wshape = l.conv ? std::vector<int64_t>{l.out, l.kh, l.kw, l.in}
                                             : std::vector<int64_t>{l.out, l.in};
  g.tensors.push_back(e == Encoding::f32 ? Tensor::from_floats("w", wshape, w.values)
                                         : Tensor::from_bytes("w", e, wshape, encoding_traits(e).pack(w)));
  g.tensors.push_back(Tensor::from_floats("b", {l.out}, std::vector<float>(l.out, 0.1f)));
  Node n;
  n.op = l.conv ? OpType::conv2d : OpType::linear;
  n.name = "layer";
  n.inputs = {"x", "w", "b"};
  n.outputs = {"y"};
  n.attrs["act_bits"] = int64_t(act_bits);
  n.attrs["act_scale"] = 0.02;
  n.attrs["activation"] = std::string("relu");
  if (l.conv) {
    // "Same" padding for odd kernels (stride 1: the shapes of the issue's targets).
    n.attrs["pads"] = std::vector<int64_t>{l.kh / 2, l.kw / 2, l.kh / 2, l.kw / 2};
    n.attrs["strides"] = std::vector<int64_t>{l.stride, l.stride};
    g.inputs.push_back({"x", {-1, l.in, l.h, l.w}});
  } else {
    g.inputs.push_back({"x", {-1, l.in}});
  }
  g.nodes.push_back(n);
  const auto shapes = infer_shapes(g, "--layer");
  g.outputs.push_back({"y", shapes.at("y")});
  return g;
}

TimingResult time_layer_or_model(const Graph& graph, int threads, int64_t batch, const BenchOptions& o) {
  SessionOptions so;
  so.threads = threads;
  so.kernel_override = o.kernel;
  so.profile = o.profile;
  return time_session(graph, so, batch, o.min_time_s, o.model.empty() ? o.layer : o.model);
}

std::vector<int> thread_counts(const BenchOptions& o) {
  return o.threads ? std::vector<int>{o.threads} : std::vector<int>{1, 2};
}

void bench(const BenchOptions& o) {
  if (o.model.empty() == o.layer.empty()) fail("stern bench", "give a model file or --layer, not both");
  if (!(o.sparsity >= 0.0 && o.sparsity <= 1.0)) fail("--sparsity", "expected a fraction in [0, 1]");
  nlohmann::json j;
  Graph graph;
  double macs = 0;
  if (!o.layer.empty()) {
    const SyntheticLayer l = parse_layer(o.layer);
    const Encoding e = parse_encoding(o.encoding);
    graph = synthesize(l, e, o.sparsity, o.act_bits);
    macs = l.macs();
    j["layer"] = o.layer;
    j["encoding"] = encoding_traits(e).name;
    j["sparsity"] = o.sparsity;
    j["act_bits"] = o.act_bits;
  } else {
    graph = open_model(o.model);
    if (graph.inputs.size() != 1) fail(o.model, "stern bench feeds models with exactly one input");
    j["model"] = o.model;
  }
  const std::vector<int64_t> batches = o.batch ? std::vector<int64_t>{o.batch}
                                       : o.layer.empty() ? std::vector<int64_t>{1, 64}
                                                         : std::vector<int64_t>{1};
  j["results"] = nlohmann::json::array();
  for (int64_t batch : batches)
    for (int threads : thread_counts(o)) {
      const TimingResult t = time_layer_or_model(graph, threads, batch, o);
      nlohmann::json r = {{"threads", t.threads},         {"batch", t.batch},
                          {"median_ms", t.median_ms},     {"min_ms", t.min_ms},
                          {"iterations", t.iterations},   {"images_per_s", 1000.0 * batch / t.median_ms}};
      if (macs > 0) r["gops"] = 2.0 * macs * batch / (t.median_ms * 1e6);
      if (o.profile) r["step_median_ms"] = t.step_median_ms;
      j["results"].push_back(r);
    }
  SessionOptions so;
  so.kernel_override = o.kernel;
  j["layers"] = nlohmann::json::array();
  for (const LayerPlan& p : Session(graph, so).plan())
    j["layers"].push_back({{"node", p.node}, {"op", p.op}, {"encoding", p.encoding}, {"kernel", p.kernel}});
  j["isa"] = isa_name(cpu_features().best());
  // Whether signed-binary and binary convolutions may run on the int8 VNNI GEMM here.
  j["vnni_dual"] = cpu_features().vnni_dual;
  if (o.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%s  (%s%s)\n", o.layer.empty() ? o.model.c_str() : o.layer.c_str(), j["isa"].get<std::string>().c_str(),
              cpu_features().vnni_dual ? ", two VNNI ports" : "");
  for (const auto& l : j["layers"])
    if (l["kernel"] != "") std::printf("  %-20s %-34s %-15s %s\n", l["node"].get<std::string>().c_str(),
                                       l["op"].get<std::string>().c_str(), l["encoding"].get<std::string>().c_str(),
                                       l["kernel"].get<std::string>().c_str());
  for (const auto& r : j["results"]) {
    std::printf("  batch %3lld  threads %d  median %9.3f ms  min %9.3f ms  %10.1f images/s",
                static_cast<long long>(r["batch"].get<int64_t>()), r["threads"].get<int>(),
                r["median_ms"].get<double>(), r["min_ms"].get<double>(), r["images_per_s"].get<double>());
    if (r.contains("gops")) std::printf("  %8.1f GOPS", r["gops"].get<double>());
    std::printf("\n");
  }
  if (!o.profile) return;
  // One row per step, one column per (batch, threads): where the time goes. Profiled batches
  // run layer by layer (docs/RUNTIME.md "Threading"), so their totals above are those of that path.
  std::printf("\n  (profiled: batches run layer by layer, not as whole networks per thread)");
  std::printf("\n  %-24s", "median ms per step");
  for (const auto& r : j["results"])
    std::printf("  b%-4lld t%-3d", static_cast<long long>(r["batch"].get<int64_t>()), r["threads"].get<int>());
  std::printf("\n");
  for (size_t i = 0; i < j["layers"].size(); ++i) {
    std::printf("  %-24s", j["layers"][i]["node"].get<std::string>().c_str());
    for (const auto& r : j["results"]) std::printf("  %10.4f", r["step_median_ms"][i].get<double>());
    std::printf("\n");
  }
}

void add_bench_command(CLI::App& app) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* cmd = app.add_subcommand("bench", "Time a model (batch 1 and 64, 1 and 2 threads) or one synthesized layer");
  cmd->add_option("model", o->model, "Model file (.stern, .sternz or .onnx)")->check(CLI::ExistingFile);
  cmd->add_option("--layer", o->layer,
                  "Synthesize one layer: conv:<in>x<out>x<kh>x<kw>@<h>x<w>[/s<stride>] or fc:<in>x<out>");
  cmd->add_option("--encoding", o->encoding,
                  "Weights of the synthesized layer: ternary, sparse-ternary, int8, signed-binary, binary, f32");
  cmd->add_option("--sparsity", o->sparsity, "Fraction of zero weights in the synthesized layer");
  cmd->add_option("--act-bits", o->act_bits, "Activation bits of the synthesized layer (unsigned codes)")
      ->check(CLI::Range(2, 8));
  cmd->add_option("--kernel", o->kernel, "Force a kernel provider (e.g. ternary_dense, ternary_sparse, int8)");
  cmd->add_option("--threads", o->threads, "Threads (default: 1 and 2)")->check(CLI::Range(1, 256));
  cmd->add_option("--batch", o->batch, "Batch size (default: 1 and 64 for models, 1 for --layer)")->check(CLI::Range(1, 65536));
  cmd->add_option("--min-time", o->min_time_s, "Seconds of timed runs per configuration")->check(CLI::Range(0.0, 600.0));
  cmd->add_flag("--profile", o->profile,
                "Also time every step (layer, pool, ...) of the model: median ms per step (batches then run layer "
                "by layer, not as whole networks per thread)");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { bench(*o); });
}

}  // namespace

STERN_COMMAND(add_bench_command);

}  // namespace stern::cli
