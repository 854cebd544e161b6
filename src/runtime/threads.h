// Private: starting worker threads, and how they run.
#pragma once

#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace torchimage {

// Starts up to `count` threads running `body`, as many as the system allows:
// a failure to start one (EAGAIN under a process or memory limit, or no
// memory for its state) is not fatal once one runs; an exception escaping
// here would destroy the started threads unjoined (std::terminate). Returns
// the threads started; `error` says why the first that could not start did
// not.
std::vector<std::thread> start_threads(int count, const std::function<void()>& body,
                                       std::string* error = nullptr);

// Lowers the calling thread's scheduling priority (best effort: neither call
// needs privileges, and failure only means normal priority).
void become_background_thread();

}  // namespace torchimage
