// Private: how the parallel paths (save_images, the writer's queue) report
// the failures of their jobs.
#pragma once

#include <exception>
#include <string>
#include <vector>

namespace torchimage {

// An exception's message, without a c10::Error's backtrace.
std::string message_of(const std::exception& e);

// A failure of the file at `path`, naming the path once: a message of the
// file sink already names it ("cannot write 'p': ...").
std::string failure_of(const std::string& path, const std::string& message);

// "W: 1 image failed: ..." / "W: 3 images failed: a; b; c" (the first five,
// then how many more) for a list of failures; `unit` names what failed.
std::string failure_summary(const std::string& what, const std::vector<std::string>& failures,
                            const std::string& unit = "image");

}  // namespace torchimage
