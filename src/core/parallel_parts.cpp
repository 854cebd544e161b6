#include "core/parallel_parts.h"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

#if defined(__unix__)
#include <pthread.h>
#include <unistd.h>
#endif

#include "core/encode_context.h"

namespace torchimage {
namespace {

// One call's parts: taken in order by whichever thread asks next.
struct Job {
  const std::function<void(int)>* body = nullptr;
  int n = 0;
  std::atomic<int> next{0};
  std::mutex error_mutex;
  std::exception_ptr error;  // the first part's that threw
};

// Takes and runs parts until none is left (or one has thrown).
void work(Job& job) {
  for (;;) {
    const int i = job.next.fetch_add(1);
    if (i >= job.n) return;
    try {
      (*job.body)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(job.error_mutex);
      if (!job.error) job.error = std::current_exception();
      job.next.store(job.n);  // skip the parts not yet taken
    }
  }
}

// The helper thread and the job it is offered. Never destroyed: the thread
// waits on these for the life of the process (destroying them at exit,
// under a waiting thread, would be undefined).
struct Helper {
  std::mutex mutex;
  std::condition_variable offered;  // job set
  std::condition_variable finished;  // running cleared
  Job* job = nullptr;    // offered, not yet taken
  bool running = false;  // the helper is working on a job
  bool reserved = false;  // a caller has offered a job and not yet collected it
};

void helper_loop(Helper* h) {
  // Parts run here stay on this thread, as on the writer's workers.
  SerialEncodingScope serial;
  for (;;) {
    std::unique_lock<std::mutex> lock(h->mutex);
    h->offered.wait(lock, [&] { return h->job != nullptr; });
    Job* job = h->job;
    h->job = nullptr;
    h->running = true;
    lock.unlock();
    work(*job);
    lock.lock();
    h->running = false;
    h->finished.notify_all();
  }
}

std::mutex helper_mutex;  // guards the two below
Helper* helper_instance = nullptr;
#if defined(__unix__)
pid_t helper_pid = 0;
#endif

// The process's helper, started on first use (nullptr if it cannot start:
// then every part runs on the caller). A forked child has none of its
// parent's threads: it starts its own, leaving the parent's state unused.
Helper* helper() {
  std::lock_guard<std::mutex> lock(helper_mutex);
#if defined(__unix__)
  if (helper_instance != nullptr && helper_pid != ::getpid()) helper_instance = nullptr;
#endif
  if (helper_instance == nullptr) {
    auto* h = new Helper;
    try {
      std::thread(helper_loop, h).detach();
    } catch (const std::exception&) {  // EAGAIN under a thread limit: no helper
      delete h;
      return nullptr;
    }
    helper_instance = h;
#if defined(__unix__)
    helper_pid = ::getpid();
#endif
  }
  return helper_instance;
}

#if defined(__unix__)
// helper_mutex may be held by another thread at fork(); in the child that
// thread does not exist, so the child's copy is reset to unlocked.
void reset_in_child() { new (&helper_mutex) std::mutex(); }
[[maybe_unused]] const int atfork_registered = pthread_atfork(nullptr, nullptr, reset_in_child);
#endif

}  // namespace

void run_parts(int n, const std::function<void(int)>& body) {
  Job job;
  job.body = &body;
  job.n = n;
  Helper* h = n > 1 && encoder_may_use_threads() ? helper() : nullptr;
  bool offered = false;
  if (h != nullptr) {
    std::unique_lock<std::mutex> lock(h->mutex, std::try_to_lock);
    if (lock.owns_lock() && !h->reserved) {
      h->reserved = true;
      h->job = &job;
      offered = true;
    }
  }
  if (offered) h->offered.notify_one();
  work(job);
  if (offered) {
    std::unique_lock<std::mutex> lock(h->mutex);
    if (h->job == &job) {
      h->job = nullptr;  // not taken: every part ran here
    } else {
      h->finished.wait(lock, [&] { return !h->running; });
    }
    h->reserved = false;
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace torchimage
