// Private: the check every path gets before it reaches a system call.
#pragma once

#include <cstddef>
#include <string>

namespace torchimage {

// The longest file name (one path component) the file systems of Linux
// hold, in bytes (NAME_MAX).
constexpr size_t kMaxFileName = 255;

// Refuses a path that the operating system would read differently from the
// caller: one holding a NUL byte, where every system call would stop (so
// "a.png\0.jpg" would write JPEG bytes to "a.png"). The error is a
// c10::ValueError (Python's ValueError, as open() raises), starting with
// `what`.
void check_path(const std::string& path, const char* what);

}  // namespace torchimage
