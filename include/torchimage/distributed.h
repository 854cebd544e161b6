#pragma once
// Multi-process training: one sample sheet gathered from every rank, and
// per-sample export split across ranks with global indices, over LibTorch's
// own c10d process groups (Gloo on CPUs, NCCL on GPUs).
//
// Not included by <torchimage/torchimage.h>: it brings c10d's headers.
// Every rank of the group calls the same function with the same options
// (collectives: a rank that does not call leaves the others waiting until
// the group's timeout, `Options::timeout`, then they fail).
//
//   auto store = c10::make_intrusive<c10d::FileStore>(path, world);
//   auto opts = c10d::ProcessGroupGloo::Options::create();
//   opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
//   auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
//   torchimage::distributed::save_image(pg, local_samples, "sheet.png", options);
//
// The same lines compile on LibTorch 1.13 (where ProcessGroupGloo is a
// c10d::ProcessGroup) and 2.x (where it is a c10d::Backend): `Group` takes
// either.

#include <cstdint>
#include <future>
#include <string>
#include <type_traits>
#include <utility>

#include <torch/types.h>

#include <torchimage/export.h>
#include <torchimage/save_image.h>
#include <torchimage/save_images.h>
#include <torchimage/writer.h>

#if defined(USE_DISTRIBUTED) && defined(__has_include)
#if __has_include(<torch/csrc/distributed/c10d/ProcessGroup.hpp>) && \
    __has_include(<torch/csrc/distributed/c10d/Backend.hpp>)
#define TORCHIMAGE_DISTRIBUTED_C10D 1
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif
#endif

namespace torchimage {
namespace distributed {

namespace detail {
struct GroupOps;  // the collectives a group runs (src/distributed/group.cpp)
}  // namespace detail

/// The process group of a call: anything a LibTorch user holds as
/// `c10::intrusive_ptr<T>` where T derives from `c10d::ProcessGroup` or
/// `c10d::Backend` (ProcessGroupGloo, ProcessGroupNCCL, on 1.13 and 2.x).
/// One parameter type, because overloads on both intrusive_ptr types would
/// be ambiguous (their converting constructors are unconstrained).
class Group {
 public:
#ifdef TORCHIMAGE_DISTRIBUTED_C10D
  template <typename T,
            std::enable_if_t<std::is_base_of<c10d::ProcessGroup, T>::value, int> = 0>
  Group(c10::intrusive_ptr<T> pg)  // NOLINT: implicit, as a process group is passed
      : Group(ProcessGroupTag{}, c10::intrusive_ptr<c10d::ProcessGroup>(std::move(pg))) {}
  template <typename T,
            std::enable_if_t<!std::is_base_of<c10d::ProcessGroup, T>::value &&
                                 std::is_base_of<c10d::Backend, T>::value,
                             int> = 0>
  Group(c10::intrusive_ptr<T> pg)  // NOLINT
      : Group(BackendTag{}, c10::intrusive_ptr<c10d::Backend>(std::move(pg))) {}
#endif

  /// This process's rank and the number of ranks.
  TORCHIMAGE_API int rank() const;
  TORCHIMAGE_API int size() const;

  const std::shared_ptr<const detail::GroupOps>& ops() const noexcept { return ops_; }

 private:
#ifdef TORCHIMAGE_DISTRIBUTED_C10D
  struct ProcessGroupTag {};
  struct BackendTag {};
  TORCHIMAGE_API Group(ProcessGroupTag, c10::intrusive_ptr<c10d::ProcessGroup> pg);
  TORCHIMAGE_API Group(BackendTag, c10::intrusive_ptr<c10d::Backend> pg);
#endif
  std::shared_ptr<const detail::GroupOps> ops_;
};

/// The process group c10d registered under `group_name` (LibTorch >= 2.2
/// keeps a registry of groups by name): how a group made by Python's
/// `torch.distributed.init_process_group` / `new_group` reaches C++ in the
/// same process (pass its `.group_name`; the default group's is
/// `torch.distributed.group.WORLD.group_name`). An unknown name is a
/// c10::Error naming it. On a LibTorch without the registry (1.13) or
/// without c10d, a c10::Error saying so: there, construct the group in C++.
TORCHIMAGE_API Group resolve_group(const std::string& group_name);

/// Every rank passes its (B_i, C, H, W) samples; B_i may differ and be 0;
/// C, H, W, dtype and device type agree. Root gets the concatenation in rank
/// order (on local's device), the others an undefined tensor. The sizes are
/// exchanged first (one small all-gather), so a mismatch is a c10::Error on
/// every rank naming the offending rank and shapes, and no rank is left in a
/// collective.
TORCHIMAGE_API torch::Tensor gather_batch(const Group& pg, const torch::Tensor& local,
                                          int root = 0);

/// gather_batch, then `torchimage::save_image` of the concatenation on root:
/// the file is byte-identical to one process's save_image of all samples.
/// Every rank checks its options before the exchange; bad options on any rank
/// are an error on every rank. A failure of the write (disk full, a bad path)
/// is thrown on root only: the others have returned by then.
TORCHIMAGE_API void save_image(const Group& pg, const torch::Tensor& local,
                               const std::string& path, const SaveImageOptions& options = {},
                               int root = 0);

/// The same through a background writer on root: returns once the writer
/// holds its snapshot of the gathered batch (its future reports the write);
/// elsewhere a ready future.
TORCHIMAGE_API std::shared_future<void> save_image(const Group& pg, ImageWriter& writer,
                                                   const torch::Tensor& local,
                                                   const std::string& path,
                                                   const SaveImageOptions& options = {},
                                                   int root = 0);

/// Each rank writes its own samples with `torchimage::save_images`, from
/// index start_index + B_0 + ... + B_{r-1} on: the union of the files is
/// exactly start_index ... start_index + sum(B_i) - 1, each index once. No
/// sample moves between ranks. Every rank checks the pattern against the
/// global count, so a pattern without `{index}` fails everywhere. A rank
/// with 0 samples joins the exchange and writes nothing. Write failures are
/// thrown on the rank that had them.
TORCHIMAGE_API void save_images(const Group& pg, const torch::Tensor& local,
                                const std::string& pattern, const SaveImageOptions& options = {},
                                int64_t start_index = 0, int threads = 0);

/// Whether this build of torchimage has c10d support (its LibTorch had it).
/// Without it every function above throws "torchimage was built without c10d
/// support".
TORCHIMAGE_API bool available();

}  // namespace distributed
}  // namespace torchimage
