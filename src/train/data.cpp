#include "train/data.h"

namespace stern::train {

Tensors to_tensors(const Dataset& d) {
  Tensors t;
  t.x = torch::from_blob(const_cast<float*>(d.images.data()),
                         {d.count, d.channels, d.height, d.width}, torch::kFloat)
            .clone();
  t.y = torch::from_blob(const_cast<uint8_t*>(d.labels.data()), {d.count}, torch::kUInt8)
            .to(torch::kLong);
  return t;
}

torch::Tensor eval_logits(Net& net, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  net->eval();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += 1000) parts.push_back(net->forward(x.slice(0, i, i + 1000)));
  net->train();
  return parts.empty() ? torch::empty({0}) : torch::cat(parts);
}

double accuracy(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t n = labels.size(0);
  if (n == 0) return 0.0;
  return static_cast<double>(logits.argmax(1).eq(labels).sum().item<int64_t>()) / static_cast<double>(n);
}

double evaluate(Net& net, const Tensors& data) { return accuracy(eval_logits(net, data.x), data.y); }

}  // namespace stern::train
