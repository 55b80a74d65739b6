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

// Accuracy of `net` in eval mode (batches of 1000); leaves it in train mode.
double evaluate(Net& net, const Tensors& data);

}  // namespace stern::train
