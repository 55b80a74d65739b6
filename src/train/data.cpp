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

double evaluate(Net& net, const Tensors& data) {
  torch::NoGradGuard no_grad;
  net->eval();
  int64_t correct = 0;
  const int64_t n = data.x.size(0);
  for (int64_t i = 0; i < n; i += 1000) {
    const int64_t end = std::min(n, i + 1000);
    const torch::Tensor logits = net->forward(data.x.slice(0, i, end));
    correct += logits.argmax(1).eq(data.y.slice(0, i, end)).sum().item<int64_t>();
  }
  net->train();
  return n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

}  // namespace stern::train
