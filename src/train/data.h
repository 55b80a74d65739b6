// Datasets as LibTorch tensors and LibTorch evaluation, shared by the training loops.
#pragma once
#include <torch/torch.h>

#include "stern/dataset.h"
#include "train/models.h"

namespace stern::train {

struct Tensors {
  torch::Tensor x;  // [count, C, H, W] float
  torch::Tensor y;  // [count] long
};

Tensors to_tensors(const Dataset& d);

// Logits of `net` in eval mode (batches of 1000); leaves it in train mode.
torch::Tensor eval_logits(Net& net, const torch::Tensor& x);
double accuracy(const torch::Tensor& logits, const torch::Tensor& labels);
// accuracy(eval_logits(net, data.x), data.y)
double evaluate(Net& net, const Tensors& data);

}  // namespace stern::train
