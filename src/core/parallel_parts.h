// Private: one image's parts (PNG's deflate halves) on this thread and one
// helper thread that lives as long as the process.
#pragma once

#include <functional>

namespace torchimage {

// Runs body(0), ..., body(n - 1), each once, and returns when all have run.
// Where encoder_may_use_threads(), a process-wide helper thread takes parts
// beside this thread, each taking the next part not yet taken: a helper that
// starts late (a busy core, a slow wake-up) leaves more parts to this
// thread instead of holding it up. Otherwise, or while another thread has
// the helper, every part runs here. The helper is started on first use and
// kept (no thread start per image: about 0.1 ms on a VM, a tenth of a small
// sheet's save_image), and started again in a forked child. The first
// exception thrown by a part is rethrown here once every part taken has
// returned; parts not yet taken are then skipped.
void run_parts(int n, const std::function<void(int)>& body);

}  // namespace torchimage
