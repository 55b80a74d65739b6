// `stern eval`, `stern run` and `stern bench` end to end: a nearest-class-mean classifier built here from
// the MNIST train split (one linear layer, stored as f32 and as ternary2), saved with
// save_model and run through the CLI; accuracy, sparsity, sizes and logits are checked
// against the same classifier computed directly in this test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "data/test_files.h"
#include "stern/cpu_features.h"
#include "stern/dataset.h"
#include "stern/encoding.h"
#include "stern/format.h"
#include "stern/tensor_io.h"

namespace stern {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::ScratchDir;

constexpr int kClasses = 10;
constexpr int kPixels = 784;
constexpr int64_t kLimit = 300;

struct CommandResult {
  int status = -1;
  std::string output;  // stdout, then stderr
};

// env: variable assignments for the command, "NAME=value ...".
CommandResult stern_cli(const std::string& args, const std::string& env = "") {
  CommandResult r;
  FILE* pipe = ::popen((env + (env.empty() ? "" : " ") + STERN_CLI + " " + args + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) r.output.append(buffer, n);
  const int raw = ::pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// The classifier: weights[c * 784 + p] and bias[c], with the weights as the model stores
// them (dequantized), so the reference below is exactly the model.
struct Classifier {
  std::vector<float> weights;
  std::vector<float> bias;
  Encoding encoding = Encoding::f32;
  std::vector<uint8_t> payload;
};

// Nearest class mean: argmin |x - m_c|^2 = argmax x.m_c - |m_c|^2 / 2.
Classifier nearest_mean(const Dataset& train) {
  Classifier c;
  c.weights.assign(kClasses * kPixels, 0.0f);
  std::vector<int> counts(kClasses, 0);
  for (int64_t i = 0; i < train.count; ++i) {
    ++counts[train.labels[i]];
    for (int p = 0; p < kPixels; ++p) c.weights[train.labels[i] * kPixels + p] += train.images[i * kPixels + p];
  }
  for (int k = 0; k < kClasses; ++k) {
    double norm = 0;
    for (int p = 0; p < kPixels; ++p) {
      float& w = c.weights[k * kPixels + p];
      w /= static_cast<float>(counts[k]);
      norm += double{w} * w;
    }
    c.bias.push_back(static_cast<float>(-norm / 2));
  }
  c.payload = pack_f32(c.weights);
  return c;
}

// Ternary: +alpha where the class mean is bright, -alpha where it is dark but digits on
// average are not, 0 elsewhere (most pixels), alpha = 1 / (non-zeros of the row) so rows
// compete on an equal footing: a sparse layer that still classifies.
Classifier ternary_of(const Classifier& fp) {
  WeightMatrix m;
  m.rows = kClasses;
  m.cols = kPixels;
  m.group = kPixels;
  m.codes.assign(kClasses * kPixels, 0);
  std::vector<float> overall(kPixels, 0.0f);
  for (int k = 0; k < kClasses; ++k)
    for (int p = 0; p < kPixels; ++p) overall[p] += fp.weights[k * kPixels + p] / kClasses;
  for (int k = 0; k < kClasses; ++k) {
    int nonzeros = 0;
    for (int p = 0; p < kPixels; ++p) {
      const float w = fp.weights[k * kPixels + p];
      const int8_t code = w > 0.4f ? 1 : (w < 0.05f && overall[p] > 0.2f ? -1 : 0);
      m.codes[k * kPixels + p] = code;
      nonzeros += code != 0;
    }
    m.scale_pos.push_back(1.0f / static_cast<float>(std::max(nonzeros, 1)));
  }
  m.scale_neg = m.scale_pos;
  Classifier c;
  c.encoding = Encoding::ternary2;
  c.payload = encoding_traits(Encoding::ternary2).pack(m);
  c.bias.assign(kClasses, 0.0f);
  for (int k = 0; k < kClasses; ++k)
    for (int p = 0; p < kPixels; ++p) c.weights.push_back(m.weight(k, p));
  return c;
}

Graph classifier_graph(const Classifier& c) {
  Graph g;
  g.inputs.push_back({"image", {-1, 1, 28, 28}});
  g.outputs.push_back({"logits", {-1, kClasses}});
  g.nodes.push_back({OpType::flatten, "flatten", {"image"}, {"flat"}, {}});
  g.nodes.push_back({OpType::linear, "fc", {"flat", "fc.weight", "fc.bias"}, {"logits"}, {}});
  g.tensors.push_back(Tensor::from_bytes("fc.weight", c.encoding, {kClasses, kPixels}, c.payload));
  g.tensors.push_back(Tensor::from_floats("fc.bias", {kClasses}, c.bias));
  return g;
}

struct Reference {
  std::vector<std::vector<double>> logits;
  int64_t correct = 0;
  int64_t near_ties = 0;  // top-2 margin too small to be sure float rounding agrees
};

Reference reference(const Classifier& c, const Dataset& test) {
  Reference r;
  for (int64_t i = 0; i < test.count; ++i) {
    std::vector<double> z(kClasses);
    for (int k = 0; k < kClasses; ++k) {
      z[k] = c.bias[k];
      for (int p = 0; p < kPixels; ++p) z[k] += double{c.weights[k * kPixels + p]} * test.images[i * kPixels + p];
    }
    const int best = static_cast<int>(std::max_element(z.begin(), z.end()) - z.begin());
    double second = -1e300;
    for (int k = 0; k < kClasses; ++k)
      if (k != best) second = std::max(second, z[k]);
    r.near_ties += z[best] - second < 1e-4;
    r.correct += best == test.labels[i];
    r.logits.push_back(z);
  }
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  // The dataset and the classifier are shared by the suite: loading them is most of its time.
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(default_data_dir() / "mnist" / "digits" / "9.json")) return;
    const DatasetSplit split = load_dataset("mnist");
    test_ = new Dataset(split.test.head(kLimit));
    mean_ = new Classifier(nearest_mean(split.train));
  }
  static void TearDownTestSuite() {
    delete test_;
    delete mean_;
    test_ = nullptr;
    mean_ = nullptr;
  }
  void SetUp() override {
    if (test_ == nullptr) GTEST_SKIP() << "MNIST JSON digits not installed (scripts/setup.sh)";
  }
  nlohmann::json eval_json(const std::filesystem::path& model) {
    const CommandResult r = stern_cli("eval " + model.string() + " --data mnist --json --limit " +
                                      std::to_string(kLimit) + " --batch 64 --threads 2");
    EXPECT_EQ(r.status, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false);
  }

  static inline const Dataset* test_ = nullptr;
  static inline const Classifier* mean_ = nullptr;
  ScratchDir dir_;
};

void expect_eval_matches(const nlohmann::json& j, const Classifier& c, const Reference& ref,
                         const std::filesystem::path& model) {
  ASSERT_FALSE(j.is_discarded());
  EXPECT_EQ(j["images"], kLimit);
  EXPECT_NEAR(j["correct"].get<int64_t>(), ref.correct, ref.near_ties);
  EXPECT_NEAR(j["accuracy"].get<double>(), static_cast<double>(ref.correct) / kLimit,
              static_cast<double>(ref.near_ties) / kLimit + 1e-12);
  int64_t zeros = 0;
  for (float w : c.weights) zeros += w == 0.0f;
  ASSERT_EQ(j["layers"].size(), 1u);
  const auto& layer = j["layers"][0];
  EXPECT_EQ(layer["name"], "fc");
  EXPECT_EQ(layer["encoding"], encoding_traits(c.encoding).name);
  EXPECT_EQ(layer["weights"], kClasses * kPixels);
  EXPECT_EQ(layer["zeros"], zeros);
  EXPECT_DOUBLE_EQ(layer["sparsity"].get<double>(), static_cast<double>(zeros) / (kClasses * kPixels));
  EXPECT_EQ(layer["bytes"], c.payload.size());
  EXPECT_DOUBLE_EQ(j["sparsity"].get<double>(), layer["sparsity"].get<double>());
  EXPECT_EQ(j["file_bytes"], std::filesystem::file_size(model));
  EXPECT_GT(j["images_per_second"].get<double>(), 0.0);
}

TEST_F(CliTest, EvalFp32MatchesDirectComputation) {
  const Classifier& c = *mean_;
  const Reference ref = reference(c, *test_);
  EXPECT_GT(ref.correct, kLimit * 7 / 10) << "the nearest-mean classifier should reach ~80%";
  const auto model = dir_ / "mean.stern";
  save_model(classifier_graph(c), model);
  expect_eval_matches(eval_json(model), c, ref, model);

  const CommandResult text = stern_cli("eval " + model.string() + " --data mnist --limit 50");
  EXPECT_EQ(text.status, 0) << text.output;
  EXPECT_THAT(text.output, AllOf(HasSubstr("accuracy"), HasSubstr("images/s"), HasSubstr("fc"),
                                 HasSubstr("f32"), HasSubstr("total")));
}

TEST_F(CliTest, EvalTernaryReportsSparsity) {
  const Classifier c = ternary_of(*mean_);
  const Reference ref = reference(c, *test_);
  const auto model = dir_ / "ternary.stern";
  save_model(classifier_graph(c), model);
  const nlohmann::json j = eval_json(model);
  expect_eval_matches(j, c, ref, model);
  EXPECT_GT(j["sparsity"].get<double>(), 0.5);
}

TEST_F(CliTest, EvalFashionMnist) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  }
  const DatasetSplit fashion = load_dataset("fashion-mnist");
  const Classifier c = nearest_mean(fashion.train.head(6000));
  const Reference ref = reference(c, fashion.test.head(kLimit));
  EXPECT_GT(ref.correct, kLimit / 2) << "nearest class mean reaches ~68% on Fashion-MNIST";
  const auto model = dir_ / "fashion.stern";
  save_model(classifier_graph(c), model);
  const CommandResult r = stern_cli("eval " + model.string() + " --data fashion-mnist --json --limit " +
                                    std::to_string(kLimit) + " --batch 7");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  expect_eval_matches(j, c, ref, model);
  EXPECT_EQ(j["dataset"], "fashion-mnist");
  EXPECT_EQ(j["batch"], 7);
}

TEST_F(CliTest, EvalRejectsAModelThatDoesNotFitTheData) {
  const Classifier& c = *mean_;
  Graph g = classifier_graph(c);
  g.inputs[0].shape = {-1, 1, 14, 56};  // 784 values, but not the dataset's layout: fits
  const auto fits = dir_ / "fits.stern";
  save_model(g, fits);
  EXPECT_EQ(stern_cli("eval " + fits.string() + " --data mnist --limit 10").status, 0);

  g = classifier_graph(c);
  g.nodes[1].inputs.pop_back();  // no bias: still valid
  g.inputs[0].shape = {-1, 2, 28, 28};
  g.tensors[0] = Tensor::from_floats("fc.weight", {kClasses, 2 * kPixels},
                                     std::vector<float>(kClasses * 2 * kPixels, 0.5f));
  g.tensors.pop_back();
  const auto wrong = dir_ / "wrong.stern";
  save_model(g, wrong);
  const CommandResult r = stern_cli("eval " + wrong.string() + " --data mnist --limit 10");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, AllOf(HasSubstr("stern: error:"), HasSubstr("wrong.stern"),
                              HasSubstr("does not fit model input 'image' of shape [-1, 2, 28, 28]")));
}

TEST_F(CliTest, EvalRejectsBadArguments) {
  const auto model = dir_ / "mean.stern";
  save_model(classifier_graph(*mean_), model);
  EXPECT_NE(stern_cli("eval " + model.string() + " --data cifar10").status, 0);
  EXPECT_NE(stern_cli("eval " + model.string() + " --data mnist --batch 0").status, 0);
  testing::write_text(dir_ / "junk.stern", "not a model");
  const CommandResult r = stern_cli("eval " + (dir_ / "junk.stern").string() + " --data mnist");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, AllOf(HasSubstr("stern: error:"), HasSubstr("junk.stern")));
}

TEST_F(CliTest, RunWritesLogitsAndArgmax) {
  const Classifier& c = *mean_;
  const auto model = dir_ / "mean.stern";
  save_model(classifier_graph(c), model);
  const Dataset three = test_->head(3);
  const Reference ref = reference(c, three);
  write_npy(dir_ / "in.npy", FloatTensor{{3, 1, 28, 28}, three.images});

  const CommandResult r = stern_cli("run " + model.string() + " --input " + (dir_ / "in.npy").string() +
                                    " --output " + (dir_ / "out.npy").string() + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j["input_shape"], std::vector<int64_t>({3, 1, 28, 28}));
  ASSERT_EQ(j["outputs"].size(), 1u);
  EXPECT_EQ(j["outputs"][0]["shape"], std::vector<int64_t>({3, kClasses}));
  const FloatTensor out = read_npy(dir_ / "out.npy");
  ASSERT_EQ(out.shape, std::vector<int64_t>({3, kClasses}));
  for (int i = 0; i < 3; ++i) {
    const auto& z = ref.logits[i];
    const int best = static_cast<int>(std::max_element(z.begin(), z.end()) - z.begin());
    EXPECT_EQ(j["outputs"][0]["argmax"][i], best);
    for (int k = 0; k < kClasses; ++k) EXPECT_NEAR(out.data[i * kClasses + k], z[k], 1e-4 * (1 + std::abs(z[k])));
  }

  // One sample without the batch dimension; text output.
  write_npy(dir_ / "one.npy", FloatTensor{{1, 28, 28}, std::vector<float>(three.images.begin(), three.images.begin() + kPixels)});
  const CommandResult one = stern_cli("run " + model.string() + " --input " + (dir_ / "one.npy").string());
  EXPECT_EQ(one.status, 0) << one.output;
  EXPECT_THAT(one.output, AllOf(HasSubstr("[1, 10]"), HasSubstr("argmax  " + std::to_string(j["outputs"][0]["argmax"][0].get<int>()))));
}

// `stern bench`'s JSON (a public interface): the timing fields and, with --profile, one
// median per plan step (the order of "layers"); without it, none. No timing is asserted,
// only that times are times.
void expect_bench_json(const nlohmann::json& j, size_t configs, bool profile) {
  ASSERT_FALSE(j.is_discarded());
  ASSERT_EQ(j["results"].size(), configs);
  ASSERT_FALSE(j["layers"].empty());
  ASSERT_TRUE(j["isa"].is_string());
  ASSERT_TRUE(j["vnni_dual"].is_boolean());
  for (const auto& r : j["results"]) {
    EXPECT_GT(r["median_ms"].get<double>(), 0.0);
    EXPECT_LE(r["min_ms"].get<double>(), r["median_ms"].get<double>());
    EXPECT_GE(r["iterations"].get<int>(), 5);
    EXPECT_GT(r["images_per_s"].get<double>(), 0.0);
    ASSERT_EQ(r.contains("step_median_ms"), profile);
    if (!profile) continue;
    ASSERT_EQ(r["step_median_ms"].size(), j["layers"].size());
    for (const auto& ms : r["step_median_ms"]) EXPECT_GE(ms.get<double>(), 0.0);
  }
}

// stern does not load LibTorch: `stern train` runs stern-train from stern's directory with
// the same arguments (its help, under the name stern was called by), or, in a build without
// it (the sanitizer build), says which file it needs.
TEST(CliTrain, RunsTheLibTorchBuildOrNamesIt) {
  const CommandResult r = stern_cli("train --help");
#ifdef STERN_TRAIN_CLI
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr(std::string("Usage: ") + STERN_CLI + " train [OPTIONS]"), HasSubstr("--recipe")));
#else
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("stern train: needs the LibTorch build of stern"), HasSubstr("/stern-train (")));
#endif
}

// A strided synthesized layer (/s<stride>): its operations counted over the output pixels
// of the "same"-padded convolution at that stride, 5 x 5 for 10 x 10 at stride 2 (GOPS x
// median time = 2 MACs); the sparse GEMM runs it (phase planes).
TEST(CliBench, StridedSynthesizedLayer) {
  const CommandResult r = stern_cli("bench --layer conv:8x16x3x3@10x10/s2 --encoding sparse-ternary --sparsity 0.9 "
                                    "--kernel ternary_sparse --threads 1 --min-time 0 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  const nlohmann::json& t = j["results"][0];
  const double macs = t["gops"].get<double>() * 1e9 * t["median_ms"].get<double>() * 1e-3 / 2;
  EXPECT_NEAR(macs, 16.0 * 8 * 9 * 5 * 5, 1.0);
  EXPECT_EQ(j["layers"][0]["kernel"].get<std::string>().rfind("ternary_sparse:", 0), 0u) << j.dump();
  const CommandResult bad = stern_cli("bench --layer conv:8x16x3x3@10x10/s0");
  EXPECT_EQ(bad.status, 1);
  EXPECT_THAT(bad.output, HasSubstr("--layer conv:8x16x3x3@10x10/s0: dimension 0 out of range"));
}

TEST(CliBench, SynthesizedLayerWithProfile) {
  CommandResult r = stern_cli("bench --layer conv:8x16x3x3@10x10 --encoding sparse-ternary --sparsity 0.9 "
                              "--threads 1 --min-time 0 --profile --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  expect_bench_json(j, 1, true);
  EXPECT_EQ(j["layer"], "conv:8x16x3x3@10x10");
  EXPECT_EQ(j["encoding"], "ternary_sparse");
  EXPECT_DOUBLE_EQ(j["sparsity"].get<double>(), 0.9);
  EXPECT_GT(j["results"][0]["gops"].get<double>(), 0.0);
  EXPECT_NE(j["layers"][0]["kernel"].get<std::string>(), "");
  // vnni_dual as the runtime decided it: STERN_VNNI_DUAL overrides the timed guess on CPUs
  // with VNNI (the others have no VNNI port to count).
  for (const char* dual : {"0", "1"}) {
    const CommandResult o = stern_cli("bench --layer conv:8x16x3x3@10x10 --threads 1 --min-time 0 --json",
                                      std::string("STERN_VNNI_DUAL=") + dual);
    ASSERT_EQ(o.status, 0) << o.output;
    const nlohmann::json oj = nlohmann::json::parse(o.output, nullptr, false);
    EXPECT_EQ(oj["vnni_dual"].get<bool>(), *dual == '1' && cpu_features().avx512_vnni) << dual;
  }
  // A value it cannot read is named on stderr, and the command still runs.
  if (cpu_features().avx512_vnni) {
    const CommandResult o = stern_cli("bench --layer conv:8x16x3x3@10x10 --threads 1 --min-time 0", "STERN_VNNI_DUAL=yes");
    ASSERT_EQ(o.status, 0) << o.output;
    EXPECT_THAT(o.output, ::testing::HasSubstr("STERN_VNNI_DUAL=yes ignored: expected 0 or 1"));
  }
  r = stern_cli("bench --layer conv:8x16x3x3@10x10 --encoding ternary --threads 1 --min-time 0 --profile");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, AllOf(HasSubstr("median ms per step"), HasSubstr("layer")));
  // 4-bit activations: the layer runs and says so; bits outside 2..8 are refused.
  r = stern_cli("bench --layer conv:8x16x3x3@10x10 --act-bits 4 --threads 1 --min-time 0 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(r.output, nullptr, false)["act_bits"], 4);
  r = stern_cli("bench --layer conv:8x16x3x3@10x10 --act-bits 12");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("--act-bits"));
  r = stern_cli("bench --layer conv:8x16x3x3@10x10 --sparsity 1.5");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, AllOf(HasSubstr("--sparsity"), HasSubstr("expected a fraction in [0, 1]")));
}

TEST_F(CliTest, BenchModelEveryConfigurationAndStep) {
  const auto model = dir_ / "mean.stern";
  save_model(classifier_graph(*mean_), model);
  CommandResult r = stern_cli("bench " + model.string() + " --min-time 0 --profile --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
  expect_bench_json(j, 4, true);  // batch 1 and 64, 1 and 2 threads
  ASSERT_EQ(j["layers"].size(), 2u);  // flatten, fc
  EXPECT_EQ(j["layers"][1]["node"], "fc");
  r = stern_cli("bench " + model.string() + " --batch 3 --threads 2 --min-time 0 --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const nlohmann::json plain = nlohmann::json::parse(r.output, nullptr, false);
  expect_bench_json(plain, 1, false);
  EXPECT_EQ(plain["results"][0]["batch"], 3);
  EXPECT_EQ(plain["results"][0]["threads"], 2);
}

TEST_F(CliTest, RunRejectsBadInput) {
  const auto model = dir_ / "mean.stern";
  save_model(classifier_graph(*mean_), model);
  write_npy(dir_ / "bad.npy", FloatTensor{{2, 10}, std::vector<float>(20, 0.0f)});
  CommandResult r = stern_cli("run " + model.string() + " --input " + (dir_ / "bad.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, AllOf(HasSubstr("bad.npy"), HasSubstr("tensor of shape [2, 10] does not fit model input 'image'")));
  testing::write_text(dir_ / "text.npy", "hello");
  r = stern_cli("run " + model.string() + " --input " + (dir_ / "text.npy").string() + " --output " +
                (dir_ / "out.npy").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, AllOf(HasSubstr("text.npy"), HasSubstr("not a .npy file")));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.npy"));
}

}  // namespace
}  // namespace stern
