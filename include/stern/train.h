// Quantization-aware training (docs/TRAINING.md): the recipes of METHODS.md sections 1, 2
// and 4 on LibTorch, and export of the trained network to .stern. This header is free of
// LibTorch so the CLI and reports can drive training without paying for torch headers.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace stern {

// Every knob of every recipe; the CLI exposes each as a flag of the same name (underscores
// become dashes). Defaults are the ones docs/RESULTS.md was produced with.
struct TrainConfig {
  std::string data = "mnist";        // mnist | fashion-mnist
  std::string model = "lenet5";      // lenet5 | vgg | resnet20
  std::string recipe = "fp32";       // fp32 | sparse-ternary | learnable-reg | signed-binary | binary
  int epochs = 10;                   // total, all stages included
  int64_t batch_size = 128;
  double lr = 1e-3;                  // Adam, cosine-decayed over each stage
  uint64_t seed = 1;
  int threads = 2;
  int64_t train_limit = 0;           // use only the first N training images (0 = all)
  int64_t test_limit = 0;            // evaluate on the first N test images (0 = all)
  int width = 0;                     // channel width multiplier base (0 = the model's default)

  // Quantization (all recipes but fp32).
  std::string granularity = "layer"; // ternary scale groups: layer | channel | group
  int64_t group_size = 8;            // inputs per group when granularity = group
  std::string threshold = "learnable"; // ternary threshold: learnable | twn | exact
  bool asymmetric = false;           // separate alpha+ / alpha- (ternary)
  int edge_bits = 8;                 // first and last layer (and 1x1 shortcuts): 8 | 4 | 0 (= f32)
  int act_bits = -1;                 // activations into quantized layers: 0, 8, 4, 2 (-1 = recipe default)
  double ste_clip = 1.0;             // STE passes gradients only where |w| <= ste_clip

  // Regularizers.
  double l2 = 1e-4;                  // lambda_2 ||W||^2 (sum over weights / N)
  double threshold_reg = -1;         // lambda_t of the cost-weighted threshold regularizer
                                     // (-1: 1, or 0 with target_sparsity: the schedule's
                                     // cost-weighted ranking replaces it)
  double tau = 0.1;                  // smoothness of the non-zero count, in units of mean|W|
  double threshold_init = 0.7;       // t_l at start: Delta_l = t_l mean|W_l|
  int retrain_epochs = -1;           // sparse-ternary stage 3 (-1 = a third of epochs)
  // sparse-ternary: zero fraction of the ternary (body) layers, reached by scheduled
  // thresholds (0 = thresholds learned against the regularizer alone).
  // See docs/TRAINING.md, "Sparsity schedule".
  double target_sparsity = 0;
  double ramp = 0.7;                 // fraction of the regularized stage spent ramping up
  double edge_sparsity = 0;          // with target_sparsity: each k-bit edge layer's zero
                                     // fraction, by magnitude within the layer, same ramp
  int weight_bits = 2;               // learnable-reg final weight bits: 8 | 4 | 2 (= ternary)
  double msqe_lambda = 1e-3;         // learnable-reg: C = CE + e^a MSQE - lambda a
  double msqe_a_init = 0.0;          // initial a
  double prune_percentile = 0.9;     // learnable-reg partial L2 below this percentile of |w|

  // Signed-binary.
  // Defaults: the pair measured best on the Fashion-MNIST VGG (docs/TRAINING.md, tuning notes).
  std::string sign_rule = "mean";    // mean (sign of the filter's mean) | index (half +, half -)
  double sb_delta = 0.05;            // Delta_k = sb_delta * max|W_k|
  bool sb_alpha_bn = true;           // alpha absorbed by the following BatchNorm where one
                                     // follows (learnable elsewhere); false: learnable everywhere

  // Output.
  std::filesystem::path out;         // .stern file (empty: do not export)
  std::filesystem::path checkpoint;  // empty: <out>.ckpt
  bool resume = false;
};

struct LayerStat {
  std::string name;
  std::string encoding;   // what the exporter will store it as
  int64_t weights = 0;
  int64_t nonzeros = 0;
  double threshold_t = 0; // learnable threshold t_l (0 when not used)
};

struct EpochLog {
  int epoch = 0;          // 1-based, over all stages
  std::string stage;      // train | regularized | retrain (mask frozen) | ...
  double loss = 0, train_accuracy = 0, test_accuracy = 0;
  double sparsity = 0;    // zero fraction over every quantized weight layer
  std::vector<LayerStat> layers;
  std::map<std::string, double> coefficients;  // regularizer coefficients (e.g. msqe_coef)
  double seconds = 0;
};

struct Progress {
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  double loss = 0, accuracy = 0, sparsity = 0, images_per_second = 0, eta_seconds = 0;
  std::string stage;
};

struct TrainResult {
  std::vector<EpochLog> log;
  double test_accuracy = 0;      // LibTorch eval of the quantized model
  double sparsity = 0;           // over all weight layers
  double body_sparsity = 0;      // over the layers between the first and the last
  std::vector<LayerStat> layers;
  double train_seconds = 0;      // wall time of the epochs run in this invocation
  int64_t stored_bytes = 0;      // size of the exported .stern (0 if not exported)
  // The exported model on the runtime against LibTorch's eval, over the whole test split
  // (only when exported): test images whose predicted class differs, and the largest logit
  // difference over the largest |logit|.
  int64_t test_images = 0;
  std::vector<int64_t> runtime_differing_images;
  double runtime_max_logit_error = 0;
};

struct TrainCallbacks {
  std::function<void(const Progress&)> on_batch;
  std::function<void(const EpochLog&)> on_epoch;
};

// Runs the recipe, checkpointing after each epoch, and exports `config.out`. Throws
// stern::Error on bad configuration, naming the field and the allowed values.
TrainResult train_model(const TrainConfig& config, const TrainCallbacks& callbacks = {});

// Names accepted by TrainConfig, for CLI validation and help.
const std::vector<std::string>& train_recipes();
const std::vector<std::string>& train_models();

}  // namespace stern
