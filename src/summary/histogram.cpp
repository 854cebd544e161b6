#include "summary/histogram.h"

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

namespace torchimage {

const std::vector<double>& default_histogram_bins() {
  static const std::vector<double> bins = [] {
    std::vector<double> pos;
    for (double v = 1e-12; v < 1e20; v *= 1.1) pos.push_back(v);
    std::vector<double> edges;
    edges.reserve(2 * pos.size() + 1);
    for (size_t i = pos.size(); i-- > 0;) edges.push_back(-pos[i]);
    edges.push_back(0.0);
    edges.insert(edges.end(), pos.begin(), pos.end());
    return edges;
  }();
  return bins;
}

Histogram make_histogram(const at::Tensor& values, const std::vector<double>& bins,
                         const char* what) {
  TORCH_INTERNAL_ASSERT(bins.size() >= 2);
  const at::Tensor v = values.detach().to(at::kCPU).to(at::kDouble).contiguous().view({-1});
  const int64_t n = v.numel();
  TORCH_CHECK(n > 0, what, ": expected at least one value, got an empty tensor");
  const double* p = v.data_ptr<double>();
  std::vector<int64_t> counts(bins.size() - 1, 0);
  double lo = p[0], hi = p[0];
  for (int64_t i = 0; i < n; ++i) {
    const double x = p[i];
    TORCH_CHECK(std::isfinite(x), what, ": values must be finite, got ", x, " at flat index ", i);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    if (x < bins.front() || x > bins.back()) continue;
    // Bin k holds [bins[k], bins[k+1]); the last also its right edge.
    size_t k = static_cast<size_t>(std::upper_bound(bins.begin(), bins.end(), x) - bins.begin());
    k = k == bins.size() ? bins.size() - 2 : k - 1;
    ++counts[k];
  }
  size_t first = counts.size(), last = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (counts[k] > 0) {
      first = std::min(first, k);
      last = k;
    }
  }
  TORCH_CHECK(first < counts.size(), what, ": no value lies inside the bins [", bins.front(),
              ", ", bins.back(), "] (min ", lo, ", max ", hi, ")");
  Histogram h;
  h.min = lo;
  h.max = hi;
  h.num = static_cast<double>(n);
  h.sum = v.sum().item<double>();
  h.sum_squares = v.dot(v).item<double>();
  // Buckets first-1 ... last, each with its right edge; bucket first-1 is
  // empty (a bin of zeros before bin 0 when first is 0), so that the left
  // edge of the first non-empty bin is there too.
  for (size_t k = first; k <= last + 1; ++k) {
    h.bucket_limit.push_back(bins[k]);
    h.bucket.push_back(k == 0 ? 0.0 : static_cast<double>(counts[k - 1]));
  }
  return h;
}

}  // namespace torchimage
