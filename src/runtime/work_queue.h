// Private: worker threads over a queue of jobs, with a bound on the bytes
// the jobs hold (backpressure) and failures that are never lost. The
// ImageWriter's engine; any other background writer (a TensorBoard event
// file) can queue its own kind of job on one.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace torchimage {

class WorkQueue {
 public:
  // One unit of work (type-erased: each user derives its own). A worker runs
  // it, destroys it, then calls `done` and frees its bytes of the bound.
  class Job {
   public:
    virtual ~Job() = default;
    // The work; an exception is the job's failure.
    virtual void run() = 0;
    // How a failure with this message is reported (e.g. naming the file).
    virtual std::string describe(const std::string& message) const { return message; }

    int64_t bytes = 0;                              // of the bound, reserved by the caller
    std::function<void(std::exception_ptr)> done;  // after run: its failure, or null
    // Jobs with the same non-empty key run one at a time, in the order they
    // were queued (the writer's: the file they write); the others run
    // alongside them in any order.
    std::string order_key;
  };

  struct Options {
    std::string name = "WorkQueue";  // starts every message: "ImageWriter"
    std::string unit = "image";      // what a failed job made: "1 image failed"
    int threads = 1;                 // how many to start (> 0)
    int64_t max_pending_bytes = 0;   // the bound (> 0)
    bool background_priority = false;
  };

  // Starts the workers: as many as the system lets start (a process or
  // memory limit may refuse some: it works with fewer, and warns once); an
  // error when none starts.
  explicit WorkQueue(const Options& options);
  // Waits for every job, stops and joins the workers; failures nobody
  // collected go to stderr. In a forked child (see check_process) it leaves
  // everything as it is: the threads are not there.
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Blocks until `bytes` fit under the bound (or nothing else is in flight:
  // a single larger call goes through alone), then reserves them for `jobs`
  // jobs.
  void reserve(int64_t bytes, int64_t jobs);
  // Gives back a reservation whose jobs will not be queued.
  void release(int64_t bytes, int64_t jobs);

  // Queues jobs (reserved before), then throws the failures of earlier jobs
  // not yet reported. Those are taken before the new jobs are queued, so that
  // a call never throws its own job's failure (a worker may fail it at once):
  // that one goes to the job's `done` and to the next call or flush().
  void enqueue_and_report(std::vector<std::unique_ptr<Job>> jobs);

  // Waits until nothing is queued or running; throws the failures not yet
  // reported.
  void flush();

  // Jobs queued or running.
  int64_t in_flight() const;

  // Runs `work` on this thread while idle workers run it too, each at most
  // once and before any queued job (the caller is waiting on it): work that
  // any number of threads can share, such as ChunkedCopy::run. A worker may
  // still be in its call after this one returns: `work` must own what it
  // uses.
  void run_shared(std::function<void()> work);

  // An error unless this is the process that made the queue: a forked child
  // has a copy of it but none of its threads.
  void check_process(const char* what) const;
  bool in_owner_process() const;

 private:
  struct State;
  // Owned, except in a forked child, where it is left alive: its condition
  // variables may be copies of waited-on ones, whose destruction hangs, and
  // its threads are not there to join.
  State* state_;
};

// The one future of a call, whatever number of jobs it queues: ready when
// all are done, failed with the first failure among them.
class CallOutcome {
 public:
  explicit CallOutcome(int64_t jobs);
  // A job's `done`.
  std::function<void(std::exception_ptr)> callback() const;
  const std::shared_future<void>& future() const { return future_; }

 private:
  struct Shared {
    std::mutex mu;
    int64_t left = 0;
    std::exception_ptr first;
    std::promise<void> promise;
  };
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::shared_future<void> future_;
};

}  // namespace torchimage
