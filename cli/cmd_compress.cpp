// stern compress model.stern -o model.sternz [--json]: entropy-code a model (archive.h) and
// report, per tensor, how it was stored and how close the codes came to their entropy.
// stern decompress model.sternz -o model.stern: back to the exact original container.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "stern/archive.h"
#include "stern/cost.h"
#include "stern/format.h"
#include "stern/model_io.h"

namespace stern::cli {
namespace {

using nlohmann::json;

struct CompressOptions {
  std::string model;
  std::string output;
  bool json = false;
};

double per_weight(double bits, int64_t weights) { return weights > 0 ? bits / double(weights) : 0.0; }

void run_compress(const CompressOptions& o) {
  const Graph g = open_model(o.model);
  ArchiveStats stats;
  save_archive(g, o.output, &stats);
  const ModelSizes sizes = model_sizes(g);
  const double vs_fp32 = double(sizes.fp32_bytes) / double(stats.archive_bytes);
  const double vs_stern = double(sizes.stern_bytes) / double(stats.archive_bytes);
  if (o.json) {
    json tensors = json::array();
    for (const auto& t : stats.tensors) {
      tensors.push_back({{"name", t.name},
                         {"encoding", t.encoding},
                         {"method", t.method},
                         {"weights", t.weights},
                         {"payload_bytes", t.payload_bytes},
                         {"coded_bytes", t.coded_bytes},
                         {"scale_floats", t.scale_floats},
                         {"frequency_tables", t.tables},
                         {"coded_bits_per_weight", per_weight(8.0 * double(t.coded_bytes), t.weights)},
                         {"entropy_bits_per_weight", per_weight(t.entropy_bits, t.weights)},
                         {"entropy_given_previous_bits_per_weight", per_weight(t.entropy_given_previous_bits, t.weights)},
                         {"entropy_given_row_bits_per_weight", per_weight(t.entropy_given_row_bits, t.weights)},
                         {"entropy_given_kernel_position_bits_per_weight",
                          per_weight(t.entropy_given_kernel_position_bits, t.weights)}});
    }
    const json out = {{"model", o.model},
                      {"archive", o.output},
                      {"archive_bytes", stats.archive_bytes},
                      {"header_bytes", stats.header_bytes},
                      {"float_stream_bytes", stats.float_stream_bytes},
                      {"stern_bytes", sizes.stern_bytes},
                      {"fp32_bytes", sizes.fp32_bytes},
                      {"ratio_vs_fp32", vs_fp32},
                      {"ratio_vs_stern", vs_stern},
                      {"tensors", tensors}};
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  // H0: zeroth-order entropy per weight; |prev, |row, |kpos: given the previous code, the
  // filter, the kernel position (what a context model could reach, tables not counted).
  std::printf("%-24s %-14s %-11s %9s %10s %9s %7s %7s %7s %7s %7s %6s\n", "tensor", "encoding", "method", "weights",
              "payload_B", "coded_B", "bits/w", "H0/w", "|prev", "|row", "|kpos", "tables");
  for (const auto& t : stats.tensors) {
    const bool coded = t.method == "rans";
    std::printf("%-24s %-14s %-11s %9lld %10lld %9lld %7.4f", t.name.c_str(), t.encoding.c_str(), t.method.c_str(),
                static_cast<long long>(t.weights), static_cast<long long>(t.payload_bytes),
                static_cast<long long>(t.coded_bytes), per_weight(8.0 * double(t.coded_bytes), t.weights));
    if (coded) {
      std::printf(" %7.4f %7.4f %7.4f %7.4f %6d", per_weight(t.entropy_bits, t.weights),
                  per_weight(t.entropy_given_previous_bits, t.weights), per_weight(t.entropy_given_row_bits, t.weights),
                  per_weight(t.entropy_given_kernel_position_bits, t.weights), t.tables);
    }
    std::printf("\n");
  }
  std::printf("\n%s: %lld bytes (header %lld, floats %lld); .stern %lld bytes (%.2fx), FP32 %lld bytes (%.1fx)\n",
              o.output.c_str(), static_cast<long long>(stats.archive_bytes), static_cast<long long>(stats.header_bytes),
              static_cast<long long>(stats.float_stream_bytes), static_cast<long long>(sizes.stern_bytes), vs_stern,
              static_cast<long long>(sizes.fp32_bytes), vs_fp32);
}

struct DecompressOptions {
  std::string archive;
  std::string output;
};

void add_compress_command(CLI::App& app) {
  auto options = std::make_shared<CompressOptions>();
  CLI::App* cmd = app.add_subcommand("compress", "Entropy-code a model into a .sternz archive");
  cmd->add_option("model", options->model, "model file (.stern or .sternz)")->required();
  cmd->add_option("-o,--output", options->output, "archive to write (.sternz)")->required();
  cmd->add_flag("--json", options->json, "print JSON instead of a table");
  cmd->callback([options] { run_compress(*options); });
}

void add_decompress_command(CLI::App& app) {
  auto options = std::make_shared<DecompressOptions>();
  CLI::App* cmd = app.add_subcommand("decompress", "Decode a .sternz archive back to the .stern it was made from");
  cmd->add_option("archive", options->archive, "archive (.sternz)")->required();
  cmd->add_option("-o,--output", options->output, "model to write (.stern)")->required();
  cmd->callback([options] { save_model(load_archive(options->archive), options->output); });
}

}  // namespace

STERN_COMMAND(add_compress_command);
STERN_COMMAND(add_decompress_command);

}  // namespace stern::cli
