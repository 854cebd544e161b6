// distributed::Group: a c10d process group (ProcessGroup or Backend) behind
// the two collectives torchimage needs.
#include <torchimage/distributed.h>

#include "core/torch_compat.h"
#include "distributed/group_ops.h"

#if TORCHIMAGE_HAS_GROUP_REGISTRY && defined(TORCHIMAGE_DISTRIBUTED_C10D)
#include <torch/csrc/distributed/c10d/GroupRegistry.hpp>
#endif

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

Group resolve_group(const std::string& group_name) {
#if TORCHIMAGE_HAS_GROUP_REGISTRY && defined(TORCHIMAGE_DISTRIBUTED_C10D)
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  try {
    pg = c10d::resolve_process_group(group_name);
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "torchimage::distributed::resolve_group: no process group is registered "
                "under the name '", group_name, "' in this process (c10d's registry: pass the "
                "group_name of a group torch.distributed made here): ", e.what());
  }
  TORCH_CHECK(pg, "torchimage::distributed::resolve_group: the process group registered under '",
              group_name, "' is gone");
  return Group(std::move(pg));
#else
#ifdef TORCHIMAGE_DISTRIBUTED_C10D
  const char* c10d = "";
#else
  const char* c10d = " without c10d";
#endif
  TORCH_CHECK(false, "torchimage::distributed::resolve_group('", group_name, "'): resolving a "
              "process group by name needs torch >= 2.2 with c10d (its registry of groups, "
              "GroupRegistry.hpp); this torchimage was built against LibTorch ",
              TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR, c10d,
              ". There, construct the process group in C++ and pass it to "
              "torchimage::distributed's functions");
#endif
}

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
