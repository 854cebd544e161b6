// distributed::Group: a c10d process group (ProcessGroup or Backend) behind
// the two collectives torchimage needs.
#include <torchimage/distributed.h>

#include "distributed/group_ops.h"

namespace torchimage {
namespace distributed {

#ifdef TORCHIMAGE_DISTRIBUTED_C10D
namespace {

// The same calls on either kind of group: both have getRank, getSize,
// allgather and gather with these signatures in 1.13 and 2.x.
template <typename PG>
std::shared_ptr<const detail::GroupOps> make_ops(c10::intrusive_ptr<PG> pg) {
  TORCH_CHECK(pg, "torchimage::distributed: the process group is null");
  auto ops = std::make_shared<detail::GroupOps>();
  ops->rank = pg->getRank();
  ops->size = pg->getSize();
  ops->allgather = [pg](std::vector<at::Tensor>& out, at::Tensor& in) {
    std::vector<std::vector<at::Tensor>> outputs{out};
    std::vector<at::Tensor> inputs{in};
    pg->allgather(outputs, inputs)->wait();
    out = outputs[0];
  };
  ops->gather = [pg](std::vector<at::Tensor>& out, at::Tensor& in, int root) {
    std::vector<std::vector<at::Tensor>> outputs;
    if (!out.empty()) outputs.push_back(out);
    std::vector<at::Tensor> inputs{in};
    c10d::GatherOptions options;
    options.rootRank = root;
    pg->gather(outputs, inputs, options)->wait();
    if (!out.empty()) out = outputs[0];
  };
  return ops;
}

}  // namespace

Group::Group(ProcessGroupTag, c10::intrusive_ptr<c10d::ProcessGroup> pg)
    : ops_(make_ops(std::move(pg))) {}
Group::Group(BackendTag, c10::intrusive_ptr<c10d::Backend> pg) : ops_(make_ops(std::move(pg))) {}

bool available() { return true; }
#else
bool available() { return false; }
#endif

int Group::rank() const {
  TORCH_CHECK(ops_, "torchimage was built without c10d support");
  return ops_->rank;
}

int Group::size() const {
  TORCH_CHECK(ops_, "torchimage was built without c10d support");
  return ops_->size;
}

}  // namespace distributed
}  // namespace torchimage
