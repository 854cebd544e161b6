// Private: the collectives torchimage runs on a distributed::Group, erased
// of the process group's type (c10d::ProcessGroup or c10d::Backend), so that
// the functions of distributed.cpp are written once for both.
#pragma once

#include <functional>
#include <vector>

#include <ATen/ATen.h>

namespace torchimage {
namespace distributed {
namespace detail {

struct GroupOps {
  int rank = 0;
  int size = 1;
  // c10d's all-gather of one tensor per rank (all the same shape): out gets
  // one tensor per rank, in rank order. Waits for it; throws what the
  // collective throws (a timeout, a peer gone).
  std::function<void(std::vector<at::Tensor>& out, at::Tensor& in)> allgather;
  // c10d's gather to `root`: out (on root only) gets one tensor per rank.
  std::function<void(std::vector<at::Tensor>& out, at::Tensor& in, int root)> gather;
};

}  // namespace detail
}  // namespace distributed
}  // namespace torchimage
