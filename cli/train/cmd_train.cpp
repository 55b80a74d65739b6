// stern train: runs a recipe of docs/TRAINING.md and exports the model to .stern.
// A live progress bar when stderr is a terminal, one plain line per epoch otherwise;
// --json prints the result as one JSON object on stdout.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "command.h"
#include "stern/train.h"

namespace stern::cli {
namespace {

std::string duration(double s) {
  const int t = static_cast<int>(s + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

void print_bar(const Progress& p) {
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(kWidth * p.batch / std::max<int64_t>(p.batches, 1));
  std::string bar(filled, '#');
  bar.resize(kWidth, '.');
  std::fprintf(stderr,
               "\r\033[Kepoch %d/%d %-11s [%s] %lld/%lld loss %.4f acc %.4f sparsity %.3f "
               "%.0f img/s ETA %s",
               p.epoch, p.epochs, p.stage.c_str(), bar.c_str(), static_cast<long long>(p.batch),
               static_cast<long long>(p.batches), p.loss, p.accuracy, p.sparsity,
               p.images_per_second, duration(p.eta_seconds).c_str());
  std::fflush(stderr);
}

void print_epoch(const EpochLog& e, bool tty) {
  std::string layers, coefs;
  for (const LayerStat& l : e.layers) {
    char buf[96];
    std::snprintf(buf, sizeof buf, " %s:%.3f", l.name.c_str(),
                  1.0 - static_cast<double>(l.nonzeros) / static_cast<double>(l.weights));
    layers += buf;
    if (l.threshold_t != 0) {
      std::snprintf(buf, sizeof buf, " t_%s=%.3f", l.name.c_str(), l.threshold_t);
      coefs += buf;
    }
  }
  for (const auto& [k, v] : e.coefficients) coefs += " " + k + "=" + std::to_string(v);
  std::fprintf(stderr,
               "%sepoch %d %s loss %.4f train_acc %.4f test_acc %.4f sparsity %.4f (%.1f s)\n"
               "  sparsity per layer:%s\n  coefficients:%s\n",
               tty ? "\r\033[K" : "", e.epoch, e.stage.c_str(), e.loss, e.train_accuracy,
               e.test_accuracy, e.sparsity, e.seconds, layers.c_str(), coefs.c_str());
}

nlohmann::json to_json(const TrainConfig& c, const TrainResult& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerStat& l : r.layers) {
    layers.push_back({{"name", l.name},
                      {"encoding", l.encoding},
                      {"weights", l.weights},
                      {"nonzeros", l.nonzeros},
                      {"sparsity", 1.0 - static_cast<double>(l.nonzeros) /
                                             static_cast<double>(std::max<int64_t>(l.weights, 1))}});
  }
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochLog& e : r.log) {
    epochs.push_back({{"epoch", e.epoch},
                      {"stage", e.stage},
                      {"loss", e.loss},
                      {"train_accuracy", e.train_accuracy},
                      {"test_accuracy", e.test_accuracy},
                      {"sparsity", e.sparsity},
                      {"coefficients", e.coefficients},
                      {"seconds", e.seconds}});
  }
  return {{"data", c.data},
          {"model", c.model},
          {"recipe", c.recipe},
          {"epochs", c.epochs},
          {"seed", c.seed},
          {"test_accuracy", r.test_accuracy},
          {"sparsity", r.sparsity},
          {"body_sparsity", r.body_sparsity},
          {"train_seconds", r.train_seconds},
          {"stored_bytes", r.stored_bytes},
          {"runtime_differing_images", r.runtime_differing_images},
          {"runtime_max_logit_error", r.runtime_max_logit_error},
          {"out", c.out.string()},
          {"layers", layers},
          {"log", epochs}};
}

void add_train_command(CLI::App& app) {
  auto c = std::make_shared<TrainConfig>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("train", "train a network with a recipe and export it to .stern");
  cmd->add_option("--data", c->data, "mnist | fashion-mnist")->capture_default_str();
  cmd->add_option("--model", c->model, "lenet5 | vgg | resnet20")->capture_default_str();
  cmd->add_option("--recipe", c->recipe,
                  "fp32 | sparse-ternary | learnable-reg | signed-binary | binary")
      ->capture_default_str();
  cmd->add_option("--epochs", c->epochs, "epochs, all stages included")->capture_default_str();
  cmd->add_option("--out", c->out, "output .stern file");
  cmd->add_option("--seed", c->seed, "seed (weights, shuffling)")->capture_default_str();
  cmd->add_flag("--resume", c->resume, "continue from the checkpoint of the same run");
  cmd->add_option("--threads", c->threads, "LibTorch threads")->capture_default_str();
  cmd->add_flag("--json", *json, "print the result as one JSON object");
  cmd->add_option("--checkpoint", c->checkpoint, "checkpoint file (default <out>.ckpt)");
  cmd->add_option("--batch-size", c->batch_size)->capture_default_str();
  cmd->add_option("--lr", c->lr, "Adam learning rate, cosine-decayed per stage")->capture_default_str();
  cmd->add_option("--train-limit", c->train_limit, "first N training images (0 = all)")->capture_default_str();
  cmd->add_option("--test-limit", c->test_limit, "first N test images (0 = all)")->capture_default_str();
  cmd->add_option("--width", c->width, "base channel width (0 = model default)")->capture_default_str();
  cmd->add_option("--granularity", c->granularity, "ternary scales: layer | channel | group")->capture_default_str();
  cmd->add_option("--group-size", c->group_size, "inputs per group")->capture_default_str();
  cmd->add_option("--threshold", c->threshold, "ternary threshold: learnable | twn | exact")->capture_default_str();
  cmd->add_flag("--asymmetric", c->asymmetric, "separate alpha+ and alpha-");
  cmd->add_option("--edge-bits", c->edge_bits, "first/last layer weight bits: 8 | 4 | 0 (f32)")->capture_default_str();
  cmd->add_option("--act-bits", c->act_bits, "activation bits 0 | 8 | 4 | 2 (-1 = recipe default)")->capture_default_str();
  cmd->add_option("--ste-clip", c->ste_clip, "STE gradient only where |w| <= this")->capture_default_str();
  cmd->add_option("--l2", c->l2, "lambda_2 of the L2 penalty")->capture_default_str();
  cmd->add_option("--threshold-reg", c->threshold_reg, "lambda_t of the cost-weighted threshold regularizer (-1: 1, or 0 with --target-sparsity)")->capture_default_str();
  cmd->add_option("--tau", c->tau, "smooth non-zero count temperature, in mean|W|")->capture_default_str();
  cmd->add_option("--threshold-init", c->threshold_init, "initial t_l (Delta = t mean|W|)")->capture_default_str();
  cmd->add_option("--retrain-epochs", c->retrain_epochs, "epochs with the mask frozen (-1 = a third)")->capture_default_str();
  cmd->add_option("--target-sparsity", c->target_sparsity, "sparse-ternary: body sparsity reached by a scheduled threshold (0 = learned thresholds)")->capture_default_str();
  cmd->add_option("--edge-sparsity", c->edge_sparsity, "with --target-sparsity: zero fraction of each k-bit first/last layer (by magnitude, same ramp)")->capture_default_str();
  cmd->add_option("--ramp", c->ramp, "fraction of the regularized stage spent ramping to --target-sparsity")->capture_default_str();
  cmd->add_option("--weight-bits", c->weight_bits, "learnable-reg weight bits 8 | 4 | 2 (ternary)")->capture_default_str();
  cmd->add_option("--msqe-lambda", c->msqe_lambda, "lambda of CE + e^a MSQE - lambda a")->capture_default_str();
  cmd->add_option("--msqe-a-init", c->msqe_a_init, "initial a")->capture_default_str();
  cmd->add_option("--prune-percentile", c->prune_percentile, "partial L2 / pruning percentile r")->capture_default_str();
  cmd->add_option("--sign-rule", c->sign_rule, "signed-binary filter signs: mean | index")->capture_default_str();
  cmd->add_option("--sb-delta", c->sb_delta, "signed-binary Delta_k = sb_delta max|W_k|")->capture_default_str();
  cmd->add_flag("--sb-alpha-bn,!--sb-alpha-learnable", c->sb_alpha_bn,
                "signed-binary scale absorbed by the following BatchNorm (default), or learnable")
      ->capture_default_str();
  cmd->callback([c, json] {
    const bool tty = isatty(STDERR_FILENO) != 0;
    TrainCallbacks cb;
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    if (tty) {
      cb.on_batch = [last](const Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (p.batch != p.batches && now - *last < std::chrono::milliseconds(100)) return;
        *last = now;
        print_bar(p);
      };
    }
    cb.on_epoch = [tty](const EpochLog& e) { print_epoch(e, tty); };
    const TrainResult r = train_model(*c, cb);
    if (*json) {
      std::printf("%s\n", to_json(*c, r).dump().c_str());
      return;
    }
    std::printf("%s %s %s: test accuracy %.4f, sparsity %.4f (body %.4f), %.1f s training",
                c->data.c_str(), c->model.c_str(), c->recipe.c_str(), r.test_accuracy, r.sparsity,
                r.body_sparsity, r.train_seconds);
    if (!c->out.empty()) {
      std::printf(", %lld bytes in %s; runtime vs LibTorch: %zu of %lld predictions differ, "
                  "logits within %.1e",
                  static_cast<long long>(r.stored_bytes), c->out.c_str(),
                  r.runtime_differing_images.size(), static_cast<long long>(r.test_images),
                  r.runtime_max_logit_error);
    }
    std::printf("\n");
  });
}

}  // namespace

STERN_COMMAND(add_train_command);

}  // namespace stern::cli
