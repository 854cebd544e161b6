// Private: the histogram torch.utils.tensorboard's add_histogram logs with
// its default bins ("tensorflow").
#pragma once

#include <vector>

#include <ATen/ATen.h>

#include "summary/event.h"

namespace torchimage {

// torch.utils.tensorboard's default bin edges: -1e20 < ... -1e-12, 0, 1e-12
// ... < 1e20, consecutive magnitudes a factor 1.1 apart (1549 edges).
const std::vector<double>& default_histogram_bins();

// make_histogram(values, bins): numpy.histogram's counts over `bins` (bins
// half-open, the last closed; values outside all bins counted in num, min,
// max and sums but in no bucket), trimmed to the buckets from the first to
// the last non-empty one plus an empty one on the left, each with its right
// edge as limit. `values`: a defined tensor of at least one real value, on
// any device. A non-finite value, or all values outside the bins, is an
// error starting with `what`.
Histogram make_histogram(const at::Tensor& values, const std::vector<double>& bins,
                         const char* what);

}  // namespace torchimage
