// stern info model.stern [--json]: the graph (nodes with operator, inputs, outputs and
// attributes), a per-tensor table (name, shape, encoding, bytes, sparsity) with totals, and
// the runtime's plan: the kernel chosen for each layer on this CPU.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/format.h"
#include "stern/graph.h"
#include "stern/model_io.h"
#include "stern/runtime.h"
#include "stern/shape.h"

namespace stern::cli {
namespace {

using nlohmann::json;

struct InfoOptions {
  std::string model;
  bool json = false;
};

// Shortest text that reads back to the same double.
std::string format_double(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string format_attr(const AttrValue& value) {
  struct Visitor {
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return format_double(v); }
    std::string operator()(const std::string& v) const { return json(v).dump(); }
    std::string operator()(const std::vector<int64_t>& v) const { return shape_to_string(v); }
    std::string operator()(const std::vector<double>& v) const {
      std::string out = "[";
      for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + format_double(v[i]);
      return out + "]";
    }
  };
  return std::visit(Visitor{}, value);
}

std::string format_attrs(const Attributes& attrs) {
  std::string out;
  for (const auto& [key, value] : attrs) out += (out.empty() ? "" : " ") + key + "=" + format_attr(value);
  return out;
}

json attrs_json(const Attributes& attrs) {
  json out = json::object();
  for (const auto& [key, value] : attrs) {
    json& slot = out[key];  // clang 14 cannot capture structured bindings
    std::visit([&slot](const auto& v) { slot = v; }, value);
  }
  return out;
}

std::string join(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ", ") + s;
  return out;
}

struct TensorRow {
  const Tensor* tensor;
  int64_t params;
  double sparsity;  // fraction of zero weights
};

std::vector<TensorRow> tensor_rows(const Graph& g) {
  std::vector<TensorRow> rows;
  for (const Tensor& t : g.tensors) {
    const WeightMatrix m = encoding_traits(t.encoding).unpack(t.payload, t.rows(), t.cols(), t.name);
    const int64_t n = t.numel();
    rows.push_back({&t, n, n > 0 ? 1.0 - m.density() : 0.0});
  }
  return rows;
}

// The kernels the runtime would run on this machine. A model the runtime cannot plan (or
// cannot allocate for) is still a valid container: the reason is reported instead.
struct PlanResult {
  std::vector<LayerPlan> layers;
  std::string error;
};

PlanResult runtime_plan(const Graph& g) {
  try {
    SessionOptions options;
    options.threads = 1;
    return {Session(g, options).plan(), ""};
  } catch (const std::exception& e) {
    return {{}, e.what()};
  }
}

json value_infos_json(const std::vector<ValueInfo>& values) {
  json out = json::array();
  for (const ValueInfo& v : values) out.push_back({{"name", v.name}, {"shape", v.shape}});
  return out;
}

json plan_json(const PlanResult& plan) {
  if (!plan.error.empty()) return {{"error", plan.error}};
  json layers = json::array();
  for (const LayerPlan& l : plan.layers) {
    layers.push_back({{"node", l.node}, {"op", l.op}, {"encoding", l.encoding}, {"kernel", l.kernel}});
  }
  return {{"layers", layers}};
}

void print_json(const InfoOptions& o, const Graph& g, uintmax_t file_bytes) {
  json nodes = json::array();
  for (const Node& n : g.nodes) {
    nodes.push_back({{"name", n.name},
                     {"op", op_name(n.op)},
                     {"inputs", n.inputs},
                     {"outputs", n.outputs},
                     {"attributes", attrs_json(n.attrs)}});
  }
  json tensors = json::array();
  int64_t params = 0;
  uint64_t tensor_bytes = 0;
  for (const TensorRow& r : tensor_rows(g)) {
    tensors.push_back({{"name", r.tensor->name},
                       {"shape", r.tensor->shape},
                       {"encoding", encoding_traits(r.tensor->encoding).name},
                       {"bytes", r.tensor->payload.size()},
                       {"params", r.params},
                       {"sparsity", r.sparsity}});
    params += r.params;
    tensor_bytes += r.tensor->payload.size();
  }
  const json out = {{"file", o.model},
                    {"format_version", kFormatVersion},
                    {"file_bytes", file_bytes},
                    {"inputs", value_infos_json(g.inputs)},
                    {"outputs", value_infos_json(g.outputs)},
                    {"metadata", attrs_json(g.metadata)},
                    {"nodes", nodes},
                    {"tensors", tensors},
                    {"plan", plan_json(runtime_plan(g))},
                    {"totals",
                     {{"nodes", g.nodes.size()},
                      {"tensors", g.tensors.size()},
                      {"params", params},
                      {"tensor_bytes", tensor_bytes},
                      {"file_bytes", file_bytes}}}};
  std::printf("%s\n", out.dump(2).c_str());
}

void print_text(const InfoOptions& o, const Graph& g, uintmax_t file_bytes) {
  std::printf("%s: %ju bytes (.stern format version %u)\n", o.model.c_str(), file_bytes, kFormatVersion);
  for (const ValueInfo& v : g.inputs) std::printf("input   %s %s\n", v.name.c_str(), shape_to_string(v.shape).c_str());
  for (const ValueInfo& v : g.outputs) std::printf("output  %s %s\n", v.name.c_str(), shape_to_string(v.shape).c_str());
  for (const auto& [key, value] : g.metadata) {
    std::printf("meta    %s = %s\n", key.c_str(), format_attr(value).c_str());
  }

  std::printf("\nnodes (%zu)\n", g.nodes.size());
  std::printf("  %-4s %-20s %-16s %-40s %-16s %s\n", "#", "name", "op", "inputs", "outputs", "attributes");
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    std::printf("  %-4zu %-20s %-16s %-40s %-16s %s\n", i, n.name.c_str(), op_name(n.op), join(n.inputs).c_str(),
                join(n.outputs).c_str(), format_attrs(n.attrs).c_str());
  }

  std::printf("\ntensors (%zu)\n", g.tensors.size());
  std::printf("  %-28s %-20s %-15s %12s %12s %9s\n", "name", "shape", "encoding", "bytes", "params", "sparsity");
  int64_t params = 0;
  uint64_t tensor_bytes = 0;
  for (const TensorRow& r : tensor_rows(g)) {
    const Tensor& t = *r.tensor;
    std::printf("  %-28s %-20s %-15s %12zu %12lld %9.4f\n", t.name.c_str(), shape_to_string(t.shape).c_str(),
                encoding_traits(t.encoding).name, t.payload.size(), static_cast<long long>(r.params), r.sparsity);
    params += r.params;
    tensor_bytes += t.payload.size();
  }
  const PlanResult plan = runtime_plan(g);
  if (plan.error.empty()) {
    std::printf("\nplan (%zu steps on this CPU)\n", plan.layers.size());
    std::printf("  %-20s %-34s %-15s %s\n", "node", "op", "encoding", "kernel");
    for (const LayerPlan& l : plan.layers) {
      std::printf("  %-20s %-34s %-15s %s\n", l.node.c_str(), l.op.c_str(), l.encoding.c_str(), l.kernel.c_str());
    }
  } else {
    std::printf("\nplan: unavailable: %s\n", plan.error.c_str());
  }

  std::printf("\ntotal: %zu nodes, %zu tensors, %lld params, %llu tensor bytes, %ju file bytes\n", g.nodes.size(),
              g.tensors.size(), static_cast<long long>(params), static_cast<unsigned long long>(tensor_bytes),
              file_bytes);
}

void run_info(const InfoOptions& o) {
  const Graph g = open_model(o.model);
  const uintmax_t file_bytes = std::filesystem::file_size(o.model);
  if (o.json) {
    print_json(o, g, file_bytes);
  } else {
    print_text(o, g, file_bytes);
  }
}

void add_info_command(CLI::App& app) {
  auto options = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "Print a .stern model's graph and tensor table");
  cmd->add_option("model", options->model, "model file (.stern, .sternz or .onnx)")->required();
  cmd->add_flag("--json", options->json, "print JSON instead of tables");
  cmd->callback([options] { run_info(*options); });
}

}  // namespace

STERN_COMMAND(add_info_command);

}  // namespace stern::cli
