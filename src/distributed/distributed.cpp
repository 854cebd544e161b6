// torchimage::distributed: the sample sheet of every rank's samples, and
// per-sample export with global indices, over a c10d process group.
//
// Every function starts with one small all-gather of each rank's header
// (its verdict on its own input and options, its batch's shape, dtype and
// device type), so that every rank decides alike from the same facts: all
// go on to the payload collective, or all throw. No rank is left waiting in
// a collective because another one refused its input.
#include <torchimage/distributed.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <numeric>
#include <sstream>
#include <vector>

#include "distributed/group_ops.h"

namespace torchimage {
namespace distributed {
namespace {

using detail::GroupOps;

const GroupOps& ops_of(const Group& pg, const char* what) {
  TORCH_CHECK(pg.ops(), "torchimage::distributed::", what,
              ": torchimage was built without c10d support");
  return *pg.ops();
}

// One rank's header, as int64 values.
enum Field { kVerdict, kCount, kChannels, kHeight, kWidth, kDtype, kDevice, kDim, kFields };
enum Verdict : int64_t { kOk = 0, kBadInput = 1, kBadOptions = 2 };

struct Header {
  int64_t v[kFields];
};

// Runs a collective; its failure (a timeout, a rank gone) becomes a
// c10::Error naming the call and this rank.
template <typename F>
void collective(const GroupOps& g, const char* what, const char* step, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    TORCH_CHECK(false, "torchimage::distributed::", what, ": rank ", g.rank, " of ", g.size,
                ": the ", step, " failed (a rank that did not call, or left: the group's "
                "timeout ends the wait): ", e.what());
  }
}

std::string shape_of(const Header& h) {
  std::ostringstream s;
  if (h.v[kDim] != 4) {
    s << "a " << h.v[kDim] << "-D tensor";
  } else {
    s << "(" << h.v[kCount] << ", " << h.v[kChannels] << ", " << h.v[kHeight] << ", "
      << h.v[kWidth] << ") " << c10::toString(static_cast<c10::ScalarType>(h.v[kDtype]))
      << " on " << c10::DeviceTypeName(static_cast<c10::DeviceType>(h.v[kDevice]), true);
  }
  return s.str();
}

// The exchange of headers, and the verdict every rank reaches from them:
// returns every rank's header, or throws on every rank. `local_error` is
// this rank's own error, thrown here as it is (with a note that the others
// were told) when this rank refused.
std::vector<Header> exchange(const GroupOps& g, const char* what, const torch::Tensor& local,
                             Verdict verdict, const std::string& local_error) {
  Header mine{};
  mine.v[kVerdict] = verdict;
  const bool defined = local.defined();
  mine.v[kDim] = defined ? local.dim() : 0;
  if (defined && local.dim() == 4) {
    for (int d = 0; d < 4; ++d) mine.v[kCount + d] = local.size(d);
  }
  mine.v[kDtype] = defined ? static_cast<int64_t>(local.scalar_type()) : -1;
  mine.v[kDevice] = defined ? static_cast<int64_t>(local.device().type()) : 0;
  const torch::Device device = defined ? local.device() : torch::Device(torch::kCPU);
  at::Tensor in = torch::from_blob(mine.v, {kFields}, torch::kLong).to(device).clone();
  std::vector<at::Tensor> out;
  for (int r = 0; r < g.size; ++r) out.push_back(torch::empty({kFields}, in.options()));
  collective(g, what, "exchange of batch sizes", [&] { g.allgather(out, in); });
  std::vector<Header> all(static_cast<size_t>(g.size));
  for (int r = 0; r < g.size; ++r) {
    const at::Tensor h = out[static_cast<size_t>(r)].to(torch::kCPU).contiguous();
    std::memcpy(all[static_cast<size_t>(r)].v, h.data_ptr<int64_t>(), sizeof(Header));
  }
  TORCH_CHECK(verdict == kOk, local_error, " (torchimage::distributed::", what, ": rank ", g.rank,
              " of ", g.size, "; every rank was told and throws too)");
  std::vector<int> refused;
  for (int r = 0; r < g.size; ++r) {
    if (all[static_cast<size_t>(r)].v[kVerdict] != kOk) refused.push_back(r);
  }
  if (!refused.empty()) {
    std::ostringstream s;
    for (size_t k = 0; k < refused.size(); ++k) s << (k ? ", " : "") << refused[k];
    TORCH_CHECK(false, "torchimage::distributed::", what, ": rank ", s.str(),
                refused.size() > 1 ? " refused their" : " refused its",
                " input or options (the reason is thrown there); this rank (", g.rank,
                ") stops too");
  }
  const Header& first = all[0];
  bool agree = true;
  for (const Header& h : all) {
    agree = agree && h.v[kDim] == 4 && h.v[kChannels] == first.v[kChannels] &&
            h.v[kHeight] == first.v[kHeight] && h.v[kWidth] == first.v[kWidth] &&
            h.v[kDtype] == first.v[kDtype] && h.v[kDevice] == first.v[kDevice];
  }
  if (!agree) {
    std::ostringstream s;
    for (int r = 0; r < g.size; ++r) {
      s << (r ? "; " : "") << "rank " << r << ": " << shape_of(all[static_cast<size_t>(r)]);
    }
    TORCH_CHECK(false, "torchimage::distributed::", what,
                ": the ranks' batches disagree; every rank passes (B_i, C, H, W) with the same "
                "C, H, W, dtype and device type: ",
                s.str());
  }
  return all;
}

// This rank's own verdict on its batch.
Verdict check_local(const torch::Tensor& local, std::string* error) {
  if (!local.defined()) {
    *error = "the local batch is an undefined tensor; expected (B_i, C, H, W)";
    return kBadInput;
  }
  if (local.dim() != 4) {
    std::ostringstream s;
    s << "the local batch has shape " << local.sizes() << "; expected (B_i, C, H, W), B_i >= 0";
    *error = s.str();
    return kBadInput;
  }
  return kOk;
}

void check_root(const GroupOps& g, int root, const char* what) {
  TORCH_CHECK(root >= 0 && root < g.size, "torchimage::distributed::", what, ": root ", root,
              " is not a rank of this group (0 to ", g.size - 1, ")");
}

// The options' verdict on this rank (format, quality, bit depth, ...): the
// checks save_image makes before it reads a pixel.
Verdict check_options(const SaveImageOptions& options, const char* what, std::string* error) {
  try {
    check_encode_options(options.encode_options(), what);
  } catch (const c10::Error& e) {
    *error = e.what_without_backtrace();
    return kBadOptions;
  }
  return kOk;
}

torch::Tensor gather_impl(const GroupOps& g, const torch::Tensor& local, int root,
                          const std::vector<Header>& all, const char* what) {
  const Header& first = all[0];
  int64_t max_count = 0, total = 0;
  for (const Header& h : all) {
    max_count = std::max(max_count, h.v[kCount]);
    total += h.v[kCount];
  }
  const auto dtype = static_cast<c10::ScalarType>(first.v[kDtype]);
  const int64_t per_sample = first.v[kChannels] * first.v[kHeight] * first.v[kWidth];
  const int64_t sample_bytes = per_sample * static_cast<int64_t>(c10::elementSize(dtype));
  const auto bytes = torch::TensorOptions().dtype(torch::kByte).device(local.device());
  if (max_count == 0 || sample_bytes == 0) {
    if (g.rank != root) return torch::Tensor();
    return torch::empty({total, first.v[kChannels], first.v[kHeight], first.v[kWidth]},
                        local.options().dtype(dtype));
  }
  // Samples travel as bytes, padded to the largest batch (c10d's gather
  // takes equal sizes): any dtype (bool, half, uint16) on any backend.
  at::Tensor in = torch::zeros({max_count * sample_bytes}, bytes);
  if (local.size(0) > 0) {
    const at::Tensor flat = local.detach().contiguous().view({-1}).view(torch::kByte);
    in.narrow(0, 0, flat.numel()).copy_(flat);
  }
  std::vector<at::Tensor> out;
  if (g.rank == root) {
    for (int r = 0; r < g.size; ++r) out.push_back(torch::empty({max_count * sample_bytes}, bytes));
  }
  collective(g, what, "gather of the samples", [&] { g.gather(out, in, root); });
  if (g.rank != root) return torch::Tensor();
  std::vector<at::Tensor> parts;
  for (int r = 0; r < g.size; ++r) {
    parts.push_back(out[static_cast<size_t>(r)].narrow(0, 0, all[static_cast<size_t>(r)].v[kCount] *
                                                                 sample_bytes));
  }
  return torch::cat(parts).view(dtype).view(
      {total, first.v[kChannels], first.v[kHeight], first.v[kWidth]});
}

torch::Tensor gather_checked(const Group& pg, const torch::Tensor& local, int root,
                             const SaveImageOptions* options, const char* what) {
  const GroupOps& g = ops_of(pg, what);
  check_root(g, root, what);
  std::string error;
  Verdict verdict = check_local(local, &error);
  if (verdict == kOk && options != nullptr) verdict = check_options(*options, what, &error);
  const std::vector<Header> all = exchange(g, what, local, verdict, error);
  return gather_impl(g, local, root, all, what);
}

}  // namespace

torch::Tensor gather_batch(const Group& pg, const torch::Tensor& local, int root) {
  return gather_checked(pg, local, root, nullptr, "gather_batch");
}

void save_image(const Group& pg, const torch::Tensor& local, const std::string& path,
                const SaveImageOptions& options, int root) {
  const torch::Tensor all = gather_checked(pg, local, root, &options, "save_image");
  if (all.defined()) torchimage::save_image(all, path, options);
}

std::shared_future<void> save_image(const Group& pg, ImageWriter& writer,
                                    const torch::Tensor& local, const std::string& path,
                                    const SaveImageOptions& options, int root) {
  torch::Tensor all = gather_checked(pg, local, root, &options, "save_image");
  if (all.defined()) return writer.save_image(std::move(all), path, options);
  std::promise<void> done;
  done.set_value();
  return done.get_future().share();
}

void save_images(const Group& pg, const torch::Tensor& local, const std::string& pattern,
                 const SaveImageOptions& options, int64_t start_index, int threads) {
  const char* what = "save_images";
  const GroupOps& g = ops_of(pg, what);
  std::string error;
  Verdict verdict = check_local(local, &error);
  if (verdict == kOk) verdict = check_options(options, what, &error);
  const std::vector<Header> all = exchange(g, what, local, verdict, error);
  int64_t offset = 0, total = 0;
  for (int r = 0; r < g.size; ++r) {
    const int64_t count = all[static_cast<size_t>(r)].v[kCount];
    if (r < g.rank) offset += count;
    total += count;
  }
  // Every rank checks the pattern against the global count: the same
  // verdict everywhere (no collective follows, so none can be left waiting).
  check_index_pattern(pattern, start_index, total, "torchimage::distributed::save_images");
  if (local.size(0) == 0) return;
  torchimage::save_images(local, pattern, options, start_index + offset, threads);
}

}  // namespace distributed
}  // namespace torchimage
