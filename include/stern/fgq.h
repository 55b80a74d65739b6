// Post-training fine-grained ternarization, FGQ (METHODS.md section 3): every conv2d/linear
// weight matrix is cut into groups of N consecutive columns (N consecutive input channels
// at one output channel and kernel position, as weights are OHWI), each group ternarized
// with its own L2-optimal (alpha, delta) found by sorting (ternary_fit.h); activations get
// 8- or 4-bit scales calibrated on sample data. No retraining.
#pragma once
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "stern/graph.h"

namespace stern {

// ---- Activation calibration ----

enum class CalibMethod { max, percentile, mse };
CalibMethod calib_method_from_name(const std::string& name);  // "max" | "percentile" | "mse"
const char* calib_method_name(CalibMethod m);

struct ActivationScale {
  double scale = 1.0;
  bool is_signed = false;
};

// Observations of one activation tensor: the exact extremes plus a bounded, evenly strided
// sample of the values for the percentile and MSE searches.
class ActivationStats {
 public:
  explicit ActivationStats(size_t max_samples = size_t{1} << 20) : max_samples_(max_samples) {}
  void observe(std::span<const float> values);
  float min() const { return min_; }
  float max() const { return max_; }
  const std::vector<float>& sample() const { return sample_; }

 private:
  size_t max_samples_;
  uint64_t seen_ = 0;
  uint64_t stride_ = 1;  // every stride_-th value is kept; doubles when the sample is full
  float min_ = 0, max_ = 0;
  std::vector<float> sample_;
};

// The scale that maps the observed range onto `bits`-bit codes (unsigned when nothing
// negative was seen, signed otherwise; graph.h's activation quantization contract).
// percentile: of |x|, e.g. 99.99; mse: minimizes the squared quantization error over the
// sample among clipping points in (0, max|x|].
ActivationScale calibrate_scale(const ActivationStats& stats, int bits, CalibMethod method,
                                double percentile = 99.99);
// Squared error of quantizing `values` with `s` at `bits` (the contract's rounding).
double activation_quant_error(std::span<const float> values, const ActivationScale& s, int bits);

// ---- Weight quantization ----

struct FgqOptions {
  int64_t group = 4;            // columns per scale group; 0 = one group per output channel
  bool asymmetric = false;      // separate alpha+/alpha- and thresholds per group
  int act_bits = 8;             // 8 or 4; 0 leaves activations in float
  // Weights and activations of the first and the last conv2d/linear layer: 8 or 4 keeps
  // them at that many bits (i8 codes per output channel); 2 ternarizes them like the rest;
  // 32 leaves them in FP32 with float activations.
  int first_last_bits = 8;
  CalibMethod calib_method = CalibMethod::max;
  double calib_percentile = 99.99;
};

struct FgqLayerReport {
  std::string node;
  std::string op;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;          // columns per scale group actually used
  std::string encoding;
  int weight_bits = 2;        // 2 ternary, 4/8 i8, 32 f32
  int act_bits = 0;
  double act_scale = 0;
  bool act_signed = false;
  double relative_l2_error = 0;  // ||W - Q(W)|| / ||W||
  double sparsity = 0;           // fraction of zero weights
  int64_t macs = 0;              // per example (conv: rows * cols * output positions)
  double mults_removed = 0;      // fraction of this layer's multiplications removed, 1 - 1/N
  int64_t weight_bytes = 0;      // stored payload
};

struct FgqReport {
  std::vector<FgqLayerReport> layers;
  int64_t total_macs = 0;
  double mults_removed = 0;  // MAC-weighted over all conv2d/linear layers
  int64_t fp32_weight_bytes = 0, weight_bytes = 0;
};

// How much each weight column's error costs: the mean square, over calibration images (and
// positions), of the input value that column multiplies. Weighting each group's fit by it
// (`stern fgq --activation-weighted`) minimizes the layer output's squared error under the
// approximation that inputs are uncorrelated (a diagonal Hessian), instead of the weights'.
struct InputImportance {
  int64_t conv_groups = 1;    // grouped conv: rows of group g see their own input channels
  std::vector<float> values;  // conv_groups x cols (OHWI column order for conv2d)
};
using InputImportanceMap = std::map<std::string, InputImportance>;  // by node name

// Runs the FP32 graph on `images` and measures the importance of every conv2d/linear layer.
InputImportanceMap fgq_input_importance(const Graph& fp32, std::span<const float> images, int64_t count);

// Quantizes every conv2d/linear weight of an FP32 graph (weights of other encodings are
// re-quantized from their dequantized values). Activation attributes are not set here.
// With `importance` (every layer's), each ternary group's fit minimizes the
// importance-weighted squared error.
Graph fgq_quantize_weights(const Graph& fp32, const FgqOptions& options, FgqReport* report,
                           const InputImportanceMap* importance = nullptr);

// Runs the FP32 graph on `images` (count x the graph input's per-example shape) through the
// runtime, observes the input of every conv2d/linear layer of `quantized` (same node names
// as `fp32`) and sets act_bits / act_scale / act_signed on it per `options` and the
// first/last policy. Fills the act_* fields of `report` when given.
void fgq_calibrate_activations(Graph& quantized, const Graph& fp32, std::span<const float> images,
                               int64_t count, const FgqOptions& options, FgqReport* report);

// Bias correction after calibration: for each conv2d/linear layer in order, the mean over the
// images of every output channel in `quantized` (earlier layers already corrected) is moved
// onto the FP32 graph's mean by adjusting the layer's bias (added when absent). With
// `match_variance` each channel is first scaled (its weight scales and bias) so that its
// standard deviation matches FP32 too.
void fgq_correct_bias(Graph& quantized, const Graph& fp32, std::span<const float> images, int64_t count,
                      bool match_variance = false);

}  // namespace stern
