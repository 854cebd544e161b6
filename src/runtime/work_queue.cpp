#include "runtime/work_queue.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <thread>
#include <unordered_map>

#include <unistd.h>

#include <c10/util/Exception.h>

#include "core/cpu_dispatch.h"
#include "runtime/failures.h"
#include "runtime/threads.h"

namespace torchimage {

struct WorkQueue::State {
  State(std::string name, std::string unit, int64_t max_pending_bytes)
      : name(std::move(name)), unit(std::move(unit)), max_pending_bytes(max_pending_bytes) {}

  const std::string name;
  const std::string unit;  // of the failure summaries
  const int64_t max_pending_bytes;
  // The process whose threads these are. A forked child has a copy of this
  // state but none of the threads, and its mutexes and condition variables
  // may be copies of locked or waited-on ones: there, every call refuses
  // and the destructor leaves the state alone.
  const pid_t owner = ::getpid();
  std::mutex mu;
  std::condition_variable work_ready;  // a job was queued, shared work, or stop
  std::condition_variable changed;     // a job finished (room, idle)
  std::deque<std::unique_ptr<Job>> queue;
  // Per order key with a job queued or running: the later jobs of that key,
  // held back until it is done (the first of them then joins the queue).
  std::unordered_map<std::string, std::deque<std::unique_ptr<Job>>> held;
  int64_t pending_bytes = 0;
  int64_t in_flight = 0;  // queued or running
  bool stop = false;
  std::vector<std::string> unreported;  // failures not yet thrown
  // Shared work a caller is waiting on; `shared_number` counts them, so that
  // a worker joins each at most once.
  std::shared_ptr<std::function<void()>> shared;
  uint64_t shared_number = 0;
  std::atomic<uint64_t> enqueued{0};  // calls to enqueue
  std::vector<std::thread> workers;

  void worker_loop();

  // Queues a job, or holds it back behind an earlier one of its key. Under mu.
  void admit(std::unique_ptr<Job> job) {
    if (!job->order_key.empty()) {
      auto found = held.find(job->order_key);
      if (found != held.end()) {
        found->second.push_back(std::move(job));
        return;
      }
      held.emplace(job->order_key, std::deque<std::unique_ptr<Job>>());
    }
    queue.push_back(std::move(job));
  }

  // After a job of `key` ran: the next one of that key joins the queue, at
  // its front (it was queued before everything that is behind it there).
  // Under mu; returns whether a job was queued.
  bool release_key(const std::string& key) {
    if (key.empty()) return false;
    auto found = held.find(key);
    if (found == held.end()) return false;
    if (found->second.empty()) {
      held.erase(found);
      return false;
    }
    queue.push_front(std::move(found->second.front()));
    found->second.pop_front();
    return true;
  }

  std::vector<std::string> take_unreported() {
    std::vector<std::string> failures;
    std::lock_guard<std::mutex> lock(mu);
    failures.swap(unreported);
    return failures;
  }

  void throw_failures(const std::vector<std::string>& failures) const {
    TORCH_CHECK(failures.empty(), failure_summary(name, failures, unit));
  }

  void wait_idle() {
    std::unique_lock<std::mutex> lock(mu);
    changed.wait(lock, [&] { return in_flight == 0; });
  }

  // Stops and joins the workers once the queue is empty.
  void stop_workers() {
    wait_idle();
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    work_ready.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }
};

WorkQueue::WorkQueue(const Options& options)
    : state_(new State(options.name, options.unit, options.max_pending_bytes)) {
  std::unique_ptr<State> owned(state_);
  State* s = state_;
  const int n = options.threads;
  const bool background = options.background_priority;
  std::string not_started;
  s->workers = start_threads(
      n,
      [s, background] {
        if (background) become_background_thread();
        s->worker_loop();
      },
      &not_started);
  const size_t started = s->workers.size();
  TORCH_CHECK(started > 0, s->name, ": cannot start a worker thread: ", not_started);
  if (started < static_cast<size_t>(n)) {
    try {
      TORCH_WARN(s->name, ": started ", started, " of ", n, " worker threads (", not_started,
                 "); writing with ", started);
    } catch (...) {  // warnings made errors: the started threads must be joined first
      s->stop_workers();
      throw;
    }
  }
  (void)owned.release();
}

WorkQueue::~WorkQueue() {
  if (!in_owner_process()) return;  // a forked child: state_ is left alive (see state_)
  state_->stop_workers();
  // A destructor cannot throw: failures nobody collected go to stderr.
  if (!state_->unreported.empty()) {
    std::fprintf(stderr, "torchimage: %s\n",
                 failure_summary(state_->name + " (at destruction)", state_->unreported, state_->unit).c_str());
  }
  delete state_;
}

void WorkQueue::State::worker_loop() {
  uint64_t helped = 0;  // the last shared work this worker took part in
  for (;;) {
    std::unique_ptr<Job> job;
    std::shared_ptr<std::function<void()>> help;
    {
      std::unique_lock<std::mutex> lock(mu);
      work_ready.wait(lock, [&] {
        return stop || !queue.empty() || (shared && shared_number != helped);
      });
      if (shared && shared_number != helped) {
        help = shared;
        helped = shared_number;
      } else {
        if (queue.empty()) return;  // stop, and nothing left
        job = std::move(queue.front());
        queue.pop_front();
      }
    }
    if (help) {
      // The caller queues its job as soon as the shared work is done: wait
      // for it awake a moment, so that queuing it wakes no one up (a futex
      // wake and an interrupt to this core, 10-15 us of the caller's stall
      // on a VM).
      const uint64_t seen = enqueued.load(std::memory_order_relaxed);
      (*help)();
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
      while (enqueued.load(std::memory_order_relaxed) == seen &&
             std::chrono::steady_clock::now() < give_up) {
        cpu_relax();
      }
      continue;
    }
    std::exception_ptr error;
    try {
      job->run();
    } catch (const std::exception& e) {
      error = std::current_exception();
      std::lock_guard<std::mutex> lock(mu);
      unreported.push_back(job->describe(message_of(e)));
    } catch (...) {
      error = std::current_exception();
      std::lock_guard<std::mutex> lock(mu);
      unreported.push_back(job->describe("unknown error"));
    }
    const int64_t bytes = job->bytes;
    auto done = std::move(job->done);
    const std::string key = std::move(job->order_key);
    job.reset();  // free what it holds before making room
    if (done) done(error);
    bool next = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      pending_bytes -= bytes;
      --in_flight;
      next = release_key(key);
    }
    if (next) work_ready.notify_one();
    changed.notify_all();
  }
}

void WorkQueue::reserve(int64_t bytes, int64_t jobs) {
  State& s = *state_;
  std::unique_lock<std::mutex> lock(s.mu);
  s.changed.wait(
      lock, [&] { return s.in_flight == 0 || s.pending_bytes + bytes <= s.max_pending_bytes; });
  s.pending_bytes += bytes;
  s.in_flight += jobs;
}

void WorkQueue::release(int64_t bytes, int64_t jobs) {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.pending_bytes -= bytes;
    s.in_flight -= jobs;
  }
  s.changed.notify_all();
}

void WorkQueue::enqueue_and_report(std::vector<std::unique_ptr<Job>> jobs) {
  State& s = *state_;
  const std::vector<std::string> earlier = s.take_unreported();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& j : jobs) s.admit(std::move(j));
  }
  s.enqueued.fetch_add(1, std::memory_order_relaxed);
  s.work_ready.notify_all();
  s.throw_failures(earlier);
}

void WorkQueue::flush() {
  state_->wait_idle();
  state_->throw_failures(state_->take_unreported());
}

int64_t WorkQueue::in_flight() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->in_flight;
}

void WorkQueue::run_shared(std::function<void()> work) {
  State& s = *state_;
  auto task = std::make_shared<std::function<void()>>(std::move(work));
  {
    std::lock_guard<std::mutex> lock(s.mu);
    s.shared = task;
    ++s.shared_number;
  }
  s.work_ready.notify_all();
  (*task)();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.shared == task) s.shared.reset();
}

bool WorkQueue::in_owner_process() const { return ::getpid() == state_->owner; }

void WorkQueue::check_process(const char* what) const {
  TORCH_CHECK(in_owner_process(), what, ": this ", state_->name, " was created in process ",
              state_->owner, " and this is a forked child (pid ", ::getpid(),
              "), where its worker threads do not exist; create a new ", state_->name,
              " in the child");
}

CallOutcome::CallOutcome(int64_t jobs) : future_(shared_->promise.get_future().share()) {
  shared_->left = jobs;
}

std::function<void(std::exception_ptr)> CallOutcome::callback() const {
  return [g = shared_](std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(g->mu);
    if (e && !g->first) g->first = e;
    if (--g->left == 0) {
      if (g->first) g->promise.set_exception(g->first);
      else g->promise.set_value();
    }
  };
}

}  // namespace torchimage
