// Recipes (docs/TRAINING.md): stage plans, losses, the training loop, checkpoints, export.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <sstream>

#include "stern/dataset.h"
#include "stern/error.h"
#include "stern/format.h"
#include "stern/train.h"
#include "train/data.h"
#include "train/export.h"
#include "train/regularizers.h"
#include "train/sparsity_schedule.h"

namespace stern {

const std::vector<std::string>& train_recipes() {
  static const std::vector<std::string> r{"fp32", "sparse-ternary", "learnable-reg",
                                          "signed-binary", "binary"};
  return r;
}
const std::vector<std::string>& train_models() {
  static const std::vector<std::string> m{"lenet5", "vgg", "resnet20"};
  return m;
}

namespace train {
namespace {

using Clock = std::chrono::steady_clock;

void check_one_of(const std::string& field, const std::string& value,
                  const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return;
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  fail("train config field '" + field + "'", "'" + value + "' is not one of " + list);
}

void check_bits(const std::string& field, int bits, std::vector<int> allowed) {
  if (std::find(allowed.begin(), allowed.end(), bits) != allowed.end()) return;
  std::string list;
  for (int a : allowed) list += (list.empty() ? "" : ", ") + std::to_string(a);
  fail("train config field '" + field + "'", std::to_string(bits) + " is not one of " + list);
}

int activation_bits(const TrainConfig& c) {
  if (c.act_bits >= 0) return c.act_bits;
  return c.recipe == "learnable-reg" ? 8 : 0;
}

void validate(const TrainConfig& c) {
  check_one_of("data", c.data, {"mnist", "fashion-mnist"});
  check_one_of("model", c.model, train_models());
  check_one_of("recipe", c.recipe, train_recipes());
  check_one_of("granularity", c.granularity, {"layer", "channel", "group"});
  check_one_of("threshold", c.threshold, {"learnable", "twn", "exact"});
  check_one_of("sign_rule", c.sign_rule, {"index", "mean"});
  check_bits("edge_bits", c.edge_bits, {0, 4, 8});
  check_bits("act_bits", activation_bits(c), {0, 2, 4, 8});
  check_bits("weight_bits", c.weight_bits, {2, 4, 8});
  if (c.epochs < 1) fail("train config field 'epochs'", "must be at least 1");
  if (c.batch_size < 1) fail("train config field 'batch_size'", "must be at least 1");
  if (c.threads < 1) fail("train config field 'threads'", "must be at least 1");
  if (!(c.lr > 0)) fail("train config field 'lr'", "must be positive");
  if (!(c.tau > 0)) fail("train config field 'tau'", "must be positive");
  if (!(c.prune_percentile >= 0 && c.prune_percentile < 1))
    fail("train config field 'prune_percentile'", "must be in [0, 1)");
  if (!(c.target_sparsity >= 0 && c.target_sparsity < 1))
    fail("train config field 'target_sparsity'", "must be in [0, 1)");
  if (c.target_sparsity > 0 && c.recipe != "sparse-ternary")
    fail("train config field 'target_sparsity'", "applies to the sparse-ternary recipe only");
  if (!(c.ramp > 0 && c.ramp <= 1)) fail("train config field 'ramp'", "must be in (0, 1]");
  if (!(c.edge_sparsity >= 0 && c.edge_sparsity < 1))
    fail("train config field 'edge_sparsity'", "must be in [0, 1)");
  if (c.edge_sparsity > 0 && (c.target_sparsity == 0 || c.edge_bits == 0))
    fail("train config field 'edge_sparsity'", "needs --target-sparsity and k-bit edge layers");
}

NetSpec net_spec(const TrainConfig& c, const Dataset& data) {
  NetSpec n;
  n.model = c.model;
  n.width = c.width;
  n.channels = data.channels;
  n.height = data.height;
  n.width_px = data.width;
  n.classes = data.num_classes;
  QuantSpec q;
  q.granularity = c.granularity == "layer"     ? Granularity::layer
                  : c.granularity == "channel" ? Granularity::channel
                                               : Granularity::group;
  q.group_size = c.group_size;
  q.threshold = c.threshold == "learnable" ? ThresholdRule::learnable
                : c.threshold == "twn"     ? ThresholdRule::twn
                                           : ThresholdRule::exact;
  q.asymmetric = c.asymmetric;
  q.threshold_init = c.threshold_init;
  q.tau = c.tau;
  q.clip = c.ste_clip;
  q.sign_by_mean = c.sign_rule == "mean";
  q.sb_delta = c.sb_delta;
  q.sb_alpha_bn = c.sb_alpha_bn;
  q.act_bits = activation_bits(c);
  n.body = n.edge = q;
  n.edge.edge = true;
  if (c.recipe == "fp32") {
    n.body.act_bits = n.edge.act_bits = 0;
    return n;
  }
  n.edge.kind = c.edge_bits == 0 ? WeightQuant::none : WeightQuant::uniform;
  n.edge.bits = c.edge_bits;
  if (c.recipe == "sparse-ternary") {
    n.body.kind = WeightQuant::ternary;
  } else if (c.recipe == "learnable-reg") {
    // The MSQE-optimal grid: exact L2 threshold for ternary, max-scaled k-bit otherwise.
    n.body.kind = c.weight_bits == 2 ? WeightQuant::ternary : WeightQuant::uniform;
    n.body.bits = c.weight_bits;
    n.body.threshold = ThresholdRule::exact;
  } else if (c.recipe == "signed-binary") {
    n.body.kind = WeightQuant::signed_binary;
  } else {
    n.body.kind = WeightQuant::binary;
  }
  return n;
}

struct Stage {
  std::string name;
  int epochs;
};

std::vector<Stage> stages_of(const TrainConfig& c) {
  if (c.recipe != "sparse-ternary" && c.recipe != "learnable-reg") return {{"train", c.epochs}};
  const int retrain = c.retrain_epochs >= 0 ? c.retrain_epochs : std::max(1, c.epochs / 3);
  if (retrain >= c.epochs) {
    fail("train config field 'retrain_epochs'",
         std::to_string(retrain) + " leaves no epoch for the regularized stage of " +
             std::to_string(c.epochs));
  }
  return {{"regularized", c.epochs - retrain}, {"retrain", retrain}};
}

std::vector<LayerStat> layer_stats(Net& net) {
  std::vector<LayerStat> stats;
  for (size_t i = 0; i < net->layers.size(); ++i) {
    QLayerImpl& l = *net->layers[i];
    const ExportedWeight w = export_weight(l);
    LayerStat s;
    s.name = "layer" + std::to_string(i);
    s.encoding = encoding_traits(w.encoding).name;
    s.weights = w.matrix.rows * w.matrix.cols;
    s.nonzeros = w.matrix.nonzeros();
    if (l.threshold_t.requires_grad()) s.threshold_t = l.threshold_t.item<double>();
    if (l.scheduled_delta.item<double>() > 0) {
      s.threshold_t = l.scheduled_delta.item<double>() / l.weight.detach().abs().mean().item<double>();
    }
    stats.push_back(s);
  }
  return stats;
}

double sparsity_of(const std::vector<LayerStat>& layers, bool body_only, const Net& net) {
  int64_t n = 0, nz = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (body_only && net->layers[i]->spec().edge) continue;
    n += layers[i].weights;
    nz += layers[i].nonzeros;
  }
  return n > 0 ? 1.0 - static_cast<double>(nz) / static_cast<double>(n) : 0.0;
}

// The recipe's identity, checked on --resume so a checkpoint never continues another run.
std::string run_identity(const TrainConfig& c) {
  std::ostringstream s;
  s << c.data << '/' << c.model << '/' << c.recipe << "/epochs=" << c.epochs << "/width=" << c.width
    << "/train_limit=" << c.train_limit << "/seed=" << c.seed;
  if (c.target_sparsity > 0) s << "/target_sparsity=" << c.target_sparsity;
  if (c.edge_sparsity > 0) s << "/edge_sparsity=" << c.edge_sparsity;
  return s.str();
}

class Trainer {
 public:
  Trainer(const TrainConfig& c, const TrainCallbacks& cb) : c_(c), cb_(cb) {
    validate(c_);
    if (c_.threshold_reg < 0) c_.threshold_reg = c_.target_sparsity > 0 ? 0.0 : 1.0;
    torch::set_num_threads(c_.threads);
    torch::manual_seed(c_.seed);
    DatasetSplit split = load_dataset(c_.data);
    if (c_.train_limit > 0) split.train = split.train.head(c_.train_limit);
    if (c_.test_limit > 0) split.test = split.test.head(c_.test_limit);
    train_ = to_tensors(split.train);
    test_ = to_tensors(split.test);
    spec_ = net_spec(c_, split.train);
    net_ = build_net(spec_);
    for (const QLayer& l : net_->layers) (l->spec().edge ? edge_ : body_).push_back(l);
    costs_ = layer_costs(body_, spec_.body.act_bits > 0 ? spec_.body.act_bits : 8);
    if (c_.target_sparsity > 0) {
      // The schedule owns the thresholds; the hardware cost enters through its ranking.
      for (const QLayer& l : body_) l->threshold_t.set_requires_grad(false);
    }
    stages_ = stages_of(c_);
    net_->msqe_a.fill_(c_.msqe_a_init);
    net_->msqe_a.set_requires_grad(c_.recipe == "learnable-reg");
    checkpoint_ = !c_.checkpoint.empty() ? c_.checkpoint
                  : !c_.out.empty()      ? std::filesystem::path(c_.out.string() + ".ckpt")
                                         : std::filesystem::path();
  }

  TrainResult run() {
    int first = 0;
    if (c_.resume) first = resume();
    for (int e = first; e < c_.epochs; ++e) {
      const auto [stage, start] = stage_at(e);
      if (e == start.first) begin_stage(stage);
      if (!optimizer_) make_optimizer(stage);
      if (e == first && e != start.first && resumed_) optimizer_->load(*resumed_optimizer_);
      EpochLog log = epoch(e, stage, e - start.first, start.second);
      // Checkpoint first, so an interrupted callback (or process) loses nothing.
      save_checkpoint(e + 1);
      log_.push_back(log);
      if (cb_.on_epoch) cb_.on_epoch(log);
    }
    return finish();
  }

 private:
  // Stage index at global epoch e, with (first epoch of the stage, its length).
  std::pair<int, std::pair<int, int>> stage_at(int e) const {
    int begin = 0;
    for (size_t s = 0; s < stages_.size(); ++s) {
      if (e < begin + stages_[s].epochs) return {static_cast<int>(s), {begin, stages_[s].epochs}};
      begin += stages_[s].epochs;
    }
    return {static_cast<int>(stages_.size()) - 1, {begin, 0}};
  }

  bool retraining(int stage) const { return stages_[stage].name == "retrain"; }

  void begin_stage(int stage) {
    optimizer_.reset();
    if (!retraining(stage)) return;
    // Quantization pruning: the zeros at the end of the regularized stage stay zeros.
    const std::vector<torch::Tensor> keep =
        c_.recipe == "learnable-reg" ? percentile_keep_masks(body_, c_.prune_percentile)
                                     : std::vector<torch::Tensor>();
    for (size_t i = 0; i < body_.size(); ++i) {
      body_[i]->freeze_mask(keep.empty() ? torch::ones_like(body_[i]->weight) : keep[i]);
    }
    if (c_.edge_sparsity > 0) {
      for (QLayer& l : edge_) l->freeze_mask(torch::ones_like(l->weight));
    }
  }

  void make_optimizer(int stage) {
    std::vector<torch::Tensor> main, thresholds, coefficient;
    for (auto& p : net_->named_parameters()) {
      if (!p.value().requires_grad()) continue;
      if (p.key().find("threshold_t") != std::string::npos) {
        if (!retraining(stage)) thresholds.push_back(p.value());
      } else if (p.key() == "msqe_a") {
        coefficient.push_back(p.value());
      } else {
        main.push_back(p.value());
      }
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    base_lr_.clear();
    auto add = [&](std::vector<torch::Tensor>& params, double lr) {
      if (params.empty()) return;
      groups.emplace_back(params, std::make_unique<torch::optim::AdamOptions>(lr));
      base_lr_.push_back(lr);
    };
    add(main, c_.lr);
    // Thresholds and the MSQE log-coefficient are single scalars that must travel far
    // (t from 0.7 to ~3 for 98% sparsity): a 10x learning rate.
    add(thresholds, 10 * c_.lr);
    add(coefficient, 10 * c_.lr);
    optimizer_ = std::make_unique<torch::optim::Adam>(groups, torch::optim::AdamOptions(c_.lr));
  }

  torch::Tensor loss_of(const torch::Tensor& logits, const torch::Tensor& y, int stage) {
    torch::Tensor loss = torch::cross_entropy_loss(logits, y);
    if (c_.l2 > 0) loss = loss + c_.l2 * l2_penalty(net_->layers);
    if (c_.recipe == "sparse-ternary" && !retraining(stage) && c_.threshold_reg > 0) {
      loss = loss + c_.threshold_reg * threshold_penalty(body_, costs_);
    }
    if (c_.recipe == "learnable-reg") {
      torch::Tensor reg = msqe_penalty(net_->layers);
      if (!retraining(stage)) reg = reg + partial_l2_penalty(body_, c_.prune_percentile);
      loss = loss + torch::exp(net_->msqe_a).squeeze() * reg -
             c_.msqe_lambda * net_->msqe_a.squeeze();
    }
    return loss;
  }

  EpochLog epoch(int e, int stage, int epoch_in_stage, int stage_epochs) {
    const int64_t n = train_.x.size(0);
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order[i] = i;
    std::mt19937_64 rng(c_.seed * 1000003ULL + static_cast<uint64_t>(e));
    std::shuffle(order.begin(), order.end(), rng);
    const torch::Tensor perm = torch::from_blob(order.data(), {n}, torch::kLong).clone();
    const int64_t batches = (n + c_.batch_size - 1) / c_.batch_size;
    const auto start = Clock::now();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    net_->train();
    for (int64_t b = 0; b < batches; ++b) {
      // Cosine decay over the stage, per step.
      const double progress =
          (epoch_in_stage + static_cast<double>(b) / batches) / std::max(stage_epochs, 1);
      const double factor = 0.5 * (1 + std::cos(M_PI * progress));
      for (size_t g = 0; g < optimizer_->param_groups().size(); ++g) {
        static_cast<torch::optim::AdamOptions&>(optimizer_->param_groups()[g].options())
            .lr(base_lr_[g] * factor);
      }
      if (c_.target_sparsity > 0 && !retraining(stage)) {
        set_scheduled_thresholds(body_, costs_,
                                 scheduled_sparsity(c_.target_sparsity, progress, c_.ramp));
        const double edge = scheduled_sparsity(c_.edge_sparsity, progress, c_.ramp);
        if (edge > 0) {
          for (QLayer& l : edge_) set_layer_threshold(*l, edge);
        }
      }
      const torch::Tensor idx = perm.slice(0, b * c_.batch_size, std::min(n, (b + 1) * c_.batch_size));
      const torch::Tensor x = train_.x.index_select(0, idx), y = train_.y.index_select(0, idx);
      const torch::Tensor logits = net_->forward(x);
      const torch::Tensor loss = loss_of(logits, y, stage);
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
      loss_sum += loss.item<double>() * static_cast<double>(idx.size(0));
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += idx.size(0);
      if (cb_.on_batch) {
        const double secs = std::chrono::duration<double>(Clock::now() - start).count();
        Progress p;
        p.epoch = e + 1;
        p.epochs = c_.epochs;
        p.batch = b + 1;
        p.batches = batches;
        p.loss = loss_sum / static_cast<double>(seen);
        p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
        p.sparsity = last_sparsity_;
        p.images_per_second = secs > 0 ? static_cast<double>(seen) / secs : 0;
        const double remaining = static_cast<double>(n - seen) +
                                 static_cast<double>(n) * (c_.epochs - e - 1);
        p.eta_seconds = p.images_per_second > 0 ? remaining / p.images_per_second : 0;
        p.stage = stages_[stage].name;
        cb_.on_batch(p);
      }
    }
    EpochLog log;
    log.epoch = e + 1;
    log.stage = stages_[stage].name;
    log.loss = loss_sum / static_cast<double>(std::max<int64_t>(seen, 1));
    log.train_accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
    log.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    seconds_ += log.seconds;
    log.test_accuracy = evaluate(net_, test_);
    log.layers = layer_stats(net_);
    log.sparsity = last_sparsity_ = sparsity_of(log.layers, false, net_);
    log.coefficients = coefficients();
    return log;
  }

  std::map<std::string, double> coefficients() const {
    std::map<std::string, double> k;
    k["l2"] = c_.l2;
    if (c_.recipe == "sparse-ternary") {
      k["threshold_reg"] = c_.threshold_reg;
      torch::NoGradGuard no_grad;
      k["threshold_penalty"] = threshold_penalty(body_, costs_).item<double>();
    }
    if (c_.recipe == "learnable-reg") {
      torch::NoGradGuard no_grad;
      k["msqe_coef"] = std::exp(net_->msqe_a.item<double>());
      k["msqe"] = msqe_penalty(net_->layers).item<double>();
    }
    return k;
  }

  void save_checkpoint(int epochs_done) {
    if (checkpoint_.empty()) return;
    torch::serialize::OutputArchive archive, model, optimizer;
    net_->save(model);
    optimizer_->save(optimizer);
    archive.write("identity", c10::IValue(run_identity(c_)));
    archive.write("epochs_done", c10::IValue(static_cast<int64_t>(epochs_done)));
    archive.write("seconds", c10::IValue(seconds_));
    archive.write("model", model);
    archive.write("optimizer", optimizer);
    std::ostringstream bytes;
    archive.save_to(bytes);
    const std::string s = bytes.str();
    write_file_atomic(checkpoint_, std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  }

  int resume() {
    if (checkpoint_.empty()) fail("--resume", "needs --out or --checkpoint to find the checkpoint");
    if (!std::filesystem::exists(checkpoint_)) return 0;  // nothing yet: a fresh start
    const std::string where = "checkpoint " + checkpoint_.string();
    torch::serialize::InputArchive archive, model;
    resumed_optimizer_ = std::make_unique<torch::serialize::InputArchive>();
    c10::IValue identity, done, seconds;
    try {
      archive.load_from(checkpoint_.string());
      archive.read("identity", identity);
      archive.read("epochs_done", done);
      archive.read("seconds", seconds);
      archive.read("model", model);
      archive.read("optimizer", *resumed_optimizer_);
      net_->load(model);
    } catch (const c10::Error& e) {
      fail(where, std::string("unreadable: ") + e.what_without_backtrace());
    }
    if (identity.toStringRef() != run_identity(c_)) {
      fail(where, "was written by run '" + identity.toStringRef() + "', not '" +
                      run_identity(c_) + "'");
    }
    resumed_ = true;
    seconds_ = seconds.toDouble();
    return static_cast<int>(done.toInt());
  }

  TrainResult finish() {
    TrainResult r;
    r.log = log_;
    // One LibTorch pass serves the accuracy and the runtime check below.
    const torch::Tensor logits = eval_logits(net_, test_.x);
    r.test_accuracy = accuracy(logits, test_.y);
    r.layers = layer_stats(net_);
    r.sparsity = sparsity_of(r.layers, false, net_);
    r.body_sparsity = sparsity_of(r.layers, true, net_);
    r.train_seconds = seconds_;
    if (!c_.out.empty()) {
      Attributes meta{{"producer", std::string("stern train")},
                      {"recipe", c_.recipe},
                      {"model", c_.model},
                      {"dataset", c_.data},
                      {"epochs", int64_t{c_.epochs}},
                      {"seed", static_cast<int64_t>(c_.seed)},
                      {"train_test_accuracy", r.test_accuracy}};
      const Graph graph = export_graph(*net_, meta);
      save_model(graph, c_.out);
      r.stored_bytes = static_cast<int64_t>(std::filesystem::file_size(c_.out));
      const RuntimeAgreement a = runtime_agreement(load_model(c_.out), test_.x, logits);
      r.test_images = a.images;
      r.runtime_differing_images = a.differing;
      r.runtime_max_logit_error = a.max_logit_error;
    }
    return r;
  }

  TrainConfig c_;
  TrainCallbacks cb_;
  Tensors train_, test_;
  NetSpec spec_;
  Net net_{nullptr};
  std::vector<QLayer> body_;  // the recipe's quantizer
  std::vector<QLayer> edge_;  // first / last layers and shortcuts, at --edge-bits
  std::vector<double> costs_;
  std::vector<Stage> stages_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::vector<double> base_lr_;
  std::filesystem::path checkpoint_;
  std::unique_ptr<torch::serialize::InputArchive> resumed_optimizer_;
  bool resumed_ = false;
  std::vector<EpochLog> log_;
  double seconds_ = 0, last_sparsity_ = 0;
};

}  // namespace
}  // namespace train

TrainResult train_model(const TrainConfig& config, const TrainCallbacks& callbacks) {
  return train::Trainer(config, callbacks).run();
}

}  // namespace stern
