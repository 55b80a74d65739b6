// stern fgq: post-training fine-grained ternarization of a pretrained FP32 model (.onnx or
// .stern), with activation calibration on a training subset; writes a .stern model and
// reports per layer the quantization error and the multiplications removed. With
// --finetune-epochs the quantized model is then fine-tuned by stern_train (finetune.h).
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "training_build.h"
#include "stern/dataset.h"
#include "stern/error.h"
#include "stern/fgq.h"
#include "stern/finetune.h"
#include "stern/format.h"
#include "stern/model_io.h"

namespace stern::cli {
namespace {

struct FgqCliOptions {
  std::string model;
  std::string group = "4";
  int act_bits = 8;
  std::string calib;
  int64_t calib_count = 512;
  std::string calib_method = "max";
  double calib_percentile = 99.99;
  bool asymmetric = false;
  bool bias_correction = false;
  bool activation_weighted = false;
  bool variance_correction = false;
  int first_last_bits = 8;
  FgqFinetuneConfig finetune{.data = {}, .epochs = 0};
  std::string out;
  bool json = false;
};

int64_t parse_group(const std::string& s) {
  if (s == "channel") return 0;
  try {
    size_t used = 0;
    const long long n = std::stoll(s, &used);
    if (used == s.size() && n >= 1) return n;
  } catch (const std::exception&) {
  }
  fail("--group '" + s + "'", "expected a positive integer N or 'channel'");
}

nlohmann::json finetune_json(const FgqFinetuneConfig& c, const FgqFinetuneResult& r) {
  nlohmann::json j{{"epochs", c.epochs}, {"lr", c.lr}, {"batch_size", c.batch_size},
                   {"steps", r.steps}, {"accuracy_before", r.accuracy_before},
                   {"accuracy_after", r.accuracy_after}, {"train_seconds", r.train_seconds}};
  j["log"] = nlohmann::json::array();
  for (const auto& e : r.log) {
    j["log"].push_back({{"epochs", e.epochs}, {"loss", e.loss}, {"train_accuracy", e.train_accuracy},
                        {"test_accuracy", e.test_accuracy}, {"seconds", e.seconds}});
  }
  return j;
}

nlohmann::json report_json(const FgqReport& r, const FgqCliOptions& o, int64_t model_bytes) {
  nlohmann::json j;
  j["model"] = o.model;
  j["output"] = o.out;
  j["group"] = o.group;
  j["act_bits"] = o.act_bits;
  j["asymmetric"] = o.asymmetric;
  j["bias_correction"] = o.bias_correction;
  j["activation_weighted"] = o.activation_weighted;
  j["variance_correction"] = o.variance_correction;
  j["first_last_bits"] = o.first_last_bits;
  j["calib"] = {{"dataset", o.calib}, {"count", o.calib_count}, {"method", o.calib_method}};
  j["layers"] = nlohmann::json::array();
  for (const auto& l : r.layers) {
    j["layers"].push_back({{"node", l.node}, {"op", l.op}, {"rows", l.rows}, {"cols", l.cols},
                           {"group", l.group}, {"encoding", l.encoding}, {"weight_bits", l.weight_bits},
                           {"act_bits", l.act_bits}, {"act_scale", l.act_scale}, {"act_signed", l.act_signed},
                           {"relative_l2_error", l.relative_l2_error}, {"sparsity", l.sparsity},
                           {"macs", l.macs}, {"mults_removed_fraction", l.mults_removed},
                           {"weight_bytes", l.weight_bytes}});
  }
  j["total_macs"] = r.total_macs;
  j["mults_removed_fraction"] = r.mults_removed;
  j["fp32_weight_bytes"] = r.fp32_weight_bytes;
  j["weight_bytes"] = r.weight_bytes;
  j["model_bytes"] = model_bytes;
  return j;
}

void print_table(const FgqReport& r, const FgqCliOptions& o, int64_t model_bytes) {
  std::printf("%-28s %-7s %11s %6s %-15s %2s %2s %10s %8s %7s %11s %8s %9s\n", "layer", "op", "matrix", "group",
              "encoding", "wb", "ab", "act_scale", "rel_l2", "sparse", "macs", "removed", "bytes");
  for (const auto& l : r.layers) {
    const std::string matrix = std::to_string(l.rows) + "x" + std::to_string(l.cols);
    std::printf("%-28s %-7s %11s %6lld %-15s %2d %2d %10.4g %8.4f %7.3f %11lld %7.2f%% %9lld\n", l.node.c_str(),
                l.op.c_str(), matrix.c_str(), static_cast<long long>(l.group), l.encoding.c_str(), l.weight_bits,
                l.act_bits, l.act_scale, l.relative_l2_error, l.sparsity, static_cast<long long>(l.macs),
                100.0 * l.mults_removed, static_cast<long long>(l.weight_bytes));
  }
  std::printf("multiplications removed: %.2f%% of %lld MACs per example\n", 100.0 * r.mults_removed,
              static_cast<long long>(r.total_macs));
  std::printf("weights: %lld bytes (FP32 %lld); model file %s: %lld bytes\n", static_cast<long long>(r.weight_bytes),
              static_cast<long long>(r.fp32_weight_bytes), o.out.c_str(), static_cast<long long>(model_bytes));
}

// Refused before any quantization work when it cannot run.
void check_finetune(const FgqCliOptions& o) {
  if (o.finetune.epochs <= 0) return;
  if (o.calib.empty()) fail("--finetune-epochs", "needs --calib DATA: fine-tuning trains on its training split");
#ifndef STERN_HAS_TRAIN
  run_training_build("--finetune-epochs");
#endif
}

Graph finetune(const Graph& fp32, const Graph& quantized, const FgqOptions& options,
               const FgqCliOptions& o, FgqReport& report, FgqFinetuneResult& result) {
#ifdef STERN_HAS_TRAIN
  FgqFinetuneConfig config = o.finetune;
  config.data = o.calib;
  std::fprintf(stderr, "fine-tuning on %s for %g epochs (LibTorch, %d threads)\n", o.calib.c_str(), config.epochs,
               config.threads);
  Graph tuned = fgq_finetune(fp32, quantized, options, config, &report, &result, [](const FgqFinetuneEpoch& e) {
    std::fprintf(stderr, "  epoch %.2f: loss %.4f, train accuracy %.4f, test accuracy %.4f (%.0f s)\n", e.epochs,
                 e.loss, e.train_accuracy, e.test_accuracy, e.seconds);
  });
  std::fprintf(stderr, "test accuracy (LibTorch): %.4f before fine-tuning, %.4f after\n", result.accuracy_before,
               result.accuracy_after);
  return tuned;
#else
  (void)fp32, (void)options, (void)o, (void)report, (void)result;
  return quantized;  // unreachable: check_finetune refused
#endif
}

void run(const FgqCliOptions& o) {
  check_finetune(o);
  FgqOptions options;
  options.group = parse_group(o.group);
  options.asymmetric = o.asymmetric;
  options.act_bits = o.act_bits;
  options.first_last_bits = o.first_last_bits;
  options.calib_method = calib_method_from_name(o.calib_method);
  options.calib_percentile = o.calib_percentile;

  const Graph fp32 = open_model(o.model);
  const bool calibrated = o.act_bits > 0 || o.first_last_bits == 4 || o.first_last_bits == 8;
  for (const auto& [needs, flag] : {std::pair{calibrated, "(--act-bits > 0 or 4/8-bit first/last layers)"},
                                    std::pair{o.bias_correction, "--bias-correction"},
                                    std::pair{o.variance_correction, "--variance-correction"},
                                    std::pair{o.activation_weighted, "--activation-weighted"}}) {
    if (needs && o.calib.empty()) fail("stern fgq", std::string(flag) + " needs --calib DATA (or --act-bits 0)");
  }
  // Calibrate on the training split: the test split stays unseen for evaluation.
  Dataset calib;
  if (!o.calib.empty()) calib = load_dataset(o.calib).train.head(o.calib_count);
  InputImportanceMap importance;
  if (o.activation_weighted) importance = fgq_input_importance(fp32, calib.images, calib.count);
  FgqReport report;
  Graph quantized = fgq_quantize_weights(fp32, options, &report, o.activation_weighted ? &importance : nullptr);
  if (o.activation_weighted) quantized.metadata["fgq_activation_weighted"] = int64_t{1};
  if (calibrated) {
    fgq_calibrate_activations(quantized, fp32, calib.images, calib.count, options, &report);
    quantized.metadata["calibration_dataset"] = o.calib;
  }
  if (o.bias_correction || o.variance_correction) {
    fgq_correct_bias(quantized, fp32, calib.images, calib.count, o.variance_correction);
  }
  FgqFinetuneResult tuned;
  if (o.finetune.epochs > 0) quantized = finetune(fp32, quantized, options, o, report, tuned);
  save_model(quantized, o.out);
  const auto model_bytes = static_cast<int64_t>(std::filesystem::file_size(o.out));
  if (o.json) {
    nlohmann::json j = report_json(report, o, model_bytes);
    if (o.finetune.epochs > 0) j["finetune"] = finetune_json(o.finetune, tuned);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    print_table(report, o, model_bytes);
  }
}

void add_fgq_command(CLI::App& app) {
  auto o = std::make_shared<FgqCliOptions>();
  CLI::App* cmd = app.add_subcommand("fgq", "Post-training fine-grained ternarization (FGQ) of an FP32 model");
  cmd->add_option("model", o->model, "FP32 model (.onnx or .stern)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--group", o->group, "Weights per scale group: N consecutive input channels, or 'channel'")
      ->capture_default_str();
  cmd->add_option("--act-bits", o->act_bits, "Activation bits (8 or 4; 0 = float)")
      ->check(CLI::IsMember({0, 4, 8}))->capture_default_str();
  cmd->add_option("--calib", o->calib, "Calibration data: mnist | fashion-mnist (training split)");
  cmd->add_option("--calib-count", o->calib_count, "Calibration images")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--calib-method", o->calib_method, "Activation scale: max | percentile | mse")
      ->check(CLI::IsMember({"max", "percentile", "mse"}))->capture_default_str();
  cmd->add_option("--calib-percentile", o->calib_percentile, "Percentile of |x| for --calib-method percentile")
      ->capture_default_str();
  cmd->add_flag("--asymmetric", o->asymmetric, "Separate alpha+/alpha- and thresholds per group");
  cmd->add_flag("--bias-correction", o->bias_correction,
                "Shift each layer's bias so its channel means match FP32 on the calibration data");
  cmd->add_flag("--variance-correction", o->variance_correction,
                "Bias correction plus a scale per output channel matching its standard deviation to FP32");
  cmd->add_flag("--activation-weighted", o->activation_weighted,
                "Fit each group to minimize its error weighted by the mean square of the inputs it multiplies "
                "(on the calibration data)");
  cmd->add_option("--first-last-bits", o->first_last_bits,
                  "Bits of the first and last layer: 8 or 4 (integer), 2 (ternary like the rest), 32 (FP32)")
      ->check(CLI::IsMember({2, 4, 8, 32}))->capture_default_str();
  cmd->add_option("--finetune-epochs", o->finetune.epochs,
                  "Fine-tune the quantized model for E epochs (may be fractional) on the --calib training split "
                  "(LibTorch; 0 = post-training only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--finetune-lr", o->finetune.lr, "Fine-tuning learning rate (Adam, cosine decay to 0)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--finetune-batch-size", o->finetune.batch_size, "Fine-tuning batch size")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--threads", o->finetune.threads, "LibTorch threads for fine-tuning")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--out", o->out, "Output model (.stern)")->required();
  cmd->add_flag("--json", o->json, "Print the report as one JSON object");
  cmd->callback([o] { run(*o); });
}

}  // namespace

STERN_COMMAND(add_fgq_command);

}  // namespace stern::cli
