// Private: the samples of a save_images call (a 4-D batch or a list of
// images) and their plan, shared by save_images and the ImageWriter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include <torchimage/save_image.h>

#include "pipeline/plan.h"

namespace torchimage {

struct Samples {
  at::Tensor batch;  // defined for a batch
  const std::vector<at::Tensor>* list = nullptr;
  int64_t size() const {
    return batch.defined() ? batch.size(0) : static_cast<int64_t>(list->size());
  }
  at::Tensor operator[](int64_t i) const {
    return batch.defined() ? batch[i] : (*list)[static_cast<size_t>(i)];
  }
};

// The call's plan, after everything that can be checked before the first
// file is written: the pattern, the format of its paths, the options and
// each sample (the first only, for a batch: one shape for all).
SavePlan plan_samples(const Samples& samples, const std::string& pattern,
                      const SaveImageOptions& options, int64_t start_index, const char* what);

}  // namespace torchimage
