// stern cost model.stern [--json]: per layer and in total, weight memory (FP32, run-time
// encoding, entropy-coded archive), MACs, multiplications removed, additions, energy from the
// 45 nm table and an FPGA estimate for unrolled ternary layers (docs/COST.md).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/cost.h"
#include "stern/model_io.h"

namespace stern::cli {
namespace {

using nlohmann::json;

struct CostOptions {
  std::string model;
  bool json = false;
  int fpga_activation_bits = 8;
};

double sparsity(const LayerCost& l) {
  return l.weights > 0 ? 1.0 - double(l.nonzero_weights) / double(l.weights) : 0.0;
}

json layer_json(const LayerCost& l) {
  return {{"node", l.node},
          {"op", l.op},
          {"encoding", l.encoding},
          {"weights", l.weights},
          {"nonzero_weights", l.nonzero_weights},
          {"sparsity", sparsity(l)},
          {"scales", l.scales},
          {"fp32_weight_bits", l.fp32_weight_bits},
          {"runtime_weight_bits", l.runtime_weight_bits},
          {"stored_weight_bits", l.stored_weight_bits},
          {"output_positions", l.output_positions},
          {"macs", l.macs},
          {"multiplications", l.multiplications},
          {"multiplications_removed", l.multiplications_removed},
          {"additions", l.additions},
          {"activation_bits", l.activation_bits},
          {"accumulator_bits", l.accumulator_bits},
          {"compute_energy_pj", l.compute_energy_pj},
          {"weight_fetch_energy_pj", l.weight_fetch_energy_pj},
          {"fpga_adders", l.fpga_adders},
          {"fpga_luts", l.fpga_luts}};
}

void print_row(const LayerCost& l) {
  std::printf("%-14s %-14s %9lld %7.4f %11lld %11lld %10lld %11lld %11lld %11lld %4d %12.1f %12.1f %9lld %11.0f\n",
              l.node.c_str(), l.encoding.c_str(), static_cast<long long>(l.weights), sparsity(l),
              static_cast<long long>(l.runtime_weight_bits), static_cast<long long>(l.stored_weight_bits),
              static_cast<long long>(l.macs), static_cast<long long>(l.multiplications),
              static_cast<long long>(l.multiplications_removed), static_cast<long long>(l.additions), l.accumulator_bits,
              l.compute_energy_pj / 1000.0, l.weight_fetch_energy_pj / 1000.0, static_cast<long long>(l.fpga_adders),
              l.fpga_luts);
}

void run_cost(const CostOptions& o) {
  const ModelCost cost = model_cost(open_model(o.model), EnergyTable{}, o.fpga_activation_bits);
  if (o.json) {
    json layers = json::array();
    for (const auto& l : cost.layers) layers.push_back(layer_json(l));
    const EnergyTable& e = cost.energy;
    const json out = {{"model", o.model},
                      {"layers", layers},
                      {"total", layer_json(cost.total)},
                      {"energy_table_pj",
                       {{"source", "Horowitz, Computing's energy problem, ISSCC 2014, 45 nm"},
                        {"int8_add", e.int8_add_pj},
                        {"int32_add", e.int32_add_pj},
                        {"int8_mult", e.int8_mult_pj},
                        {"int32_mult", e.int32_mult_pj},
                        {"fp32_add", e.fp32_add_pj},
                        {"fp32_mult", e.fp32_mult_pj},
                        {"sram_read_32bit", e.sram_read_32bit_pj},
                        {"dram_read_32bit", e.dram_read_32bit_pj}}}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  std::printf("%-14s %-14s %9s %7s %11s %11s %10s %11s %11s %11s %4s %12s %12s %9s %11s\n", "layer", "encoding",
              "weights", "sparse", "runtime_b", "stored_b", "MACs", "mults", "mults_rm", "adds", "acc",
              "compute_nJ", "weights_nJ", "fpga_add", "fpga_LUTs");
  for (const auto& l : cost.layers) print_row(l);
  print_row(cost.total);
  std::printf("\nper inference (batch 1); energy: Horowitz ISSCC 2014 45 nm table; weights fetched once from DRAM; "
              "FPGA: fully unrolled, one adder per non-zero (docs/COST.md)\n");
}

void add_cost_command(CLI::App& app) {
  auto options = std::make_shared<CostOptions>();
  CLI::App* cmd = app.add_subcommand("cost", "Hardware cost of a model: memory, operations, energy, FPGA");
  cmd->add_option("model", options->model, "model file (.stern or .sternz)")->required();
  cmd->add_flag("--json", options->json, "print JSON instead of a table");
  cmd->add_option("--fpga-activation-bits", options->fpga_activation_bits,
                  "activation width assumed by the FPGA estimate for float-activation layers")
      ->check(CLI::Range(1, 32));
  cmd->callback([options] { run_cost(*options); });
}

}  // namespace

STERN_COMMAND(add_cost_command);

}  // namespace stern::cli
