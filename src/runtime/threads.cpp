#include "runtime/threads.h"

#include <algorithm>
#include <exception>

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace torchimage {

std::vector<std::thread> start_threads(int count, const std::function<void()>& body,
                                       std::string* error) {
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i) {
    try {
      threads.emplace_back(body);
    } catch (const std::exception& e) {  // system_error (EAGAIN), or bad_alloc for its state
      if (error != nullptr) *error = e.what();
      break;
    }
  }
  return threads;
}

void become_background_thread() {
#if defined(__linux__)
  sched_param param{};
  param.sched_priority = 0;
  (void)sched_setscheduler(0, SCHED_BATCH, &param);  // this thread, on Linux
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
#endif
}

}  // namespace torchimage
