#include "io/deferred_close.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <new>
#include <thread>

#include <pthread.h>
#include <unistd.h>

namespace torchimage {
namespace {

// At most this many descriptors wait (each counts against RLIMIT_NOFILE).
constexpr size_t kMaxWaiting = 16;

// The queue and its thread. Never destroyed: the thread waits on it for the
// life of the process.
struct Closer {
  std::mutex mutex;
  std::condition_variable queued;
  std::condition_variable idle;  // nothing queued or being closed
  std::deque<int> fds;
  int closing = 0;       // descriptors taken by the thread and not yet closed
  bool started = false;  // this process's thread runs
};

Closer& closer() {
  static Closer* c = new Closer;
  return *c;
}

void close_loop(Closer* c) {
  std::unique_lock<std::mutex> lock(c->mutex);
  for (;;) {
    c->queued.wait(lock, [&] { return !c->fds.empty(); });
    const int fd = c->fds.front();
    c->fds.pop_front();
    ++c->closing;
    lock.unlock();
    ::close(fd);
    lock.lock();
    if (--c->closing == 0 && c->fds.empty()) c->idle.notify_all();
  }
}

// fork(): the mutex is held across it, so that the child's copy of the
// queue is whole. The child has no thread: it closes its copies of the
// queued descriptors (the parent's thread frees the files), gets new
// condition variables (the old ones count the parent's thread among their
// waiters: signalling one would hang) and starts its own thread when it
// needs one. A descriptor the parent's thread was closing at that moment
// may already be closed and its number reused, so the child leaves that
// one open (it goes with the child's exit or exec).
void lock_before_fork() { closer().mutex.lock(); }
void unlock_in_parent() { closer().mutex.unlock(); }
void reset_in_child() {
  Closer& c = closer();
  // The condition variables hold the parent's thread as a waiter: new ones.
  new (&c.queued) std::condition_variable();
  new (&c.idle) std::condition_variable();
  for (int fd : c.fds) ::close(fd);
  c.fds.clear();
  c.closing = 0;
  c.started = false;
  c.mutex.unlock();
}
[[maybe_unused]] const int atfork_registered =
    pthread_atfork(lock_before_fork, unlock_in_parent, reset_in_child);

}  // namespace

void close_later(int fd) {
  Closer& c = closer();
  std::unique_lock<std::mutex> lock(c.mutex);
  if (!c.started) {
    try {
      std::thread(close_loop, &c).detach();
      c.started = true;
    } catch (const std::exception&) {  // EAGAIN under a thread limit
    }
  }
  if (!c.started || c.fds.size() >= kMaxWaiting) {
    lock.unlock();
    ::close(fd);
    return;
  }
  c.fds.push_back(fd);
  lock.unlock();
  c.queued.notify_one();
}

void finish_closes() {
  Closer& c = closer();
  std::unique_lock<std::mutex> lock(c.mutex);
  c.idle.wait(lock, [&] { return c.fds.empty() && c.closing == 0; });
}

}  // namespace torchimage
