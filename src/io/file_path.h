// Private: the check every path gets before it reaches a system call.
#pragma once

#include <cstddef>
#include <string>

namespace torchimage {

// The longest file name (one path component) the file systems of Linux
// hold, in bytes (NAME_MAX).
constexpr size_t kMaxFileName = 255;

// How long writing to a FIFO that no process has open for reading waits
// for a reader before it fails (open() would block until one comes).
constexpr int kFifoReaderWaitMs = 10000;
// Changes that wait (tests).
void set_fifo_reader_wait_ms(int ms);

// What identifies the file that `path` writes, for keeping the writes to one
// file in call order: the path lexically normalized ("./a.png" is "a.png"),
// or, for a name under /dev or /proc (a descriptor, a device, a pipe reached
// as /dev/stdout), the device and inode it reaches, so that /dev/stdout,
// /dev/fd/1 and /proc/self/fd/1 are one target. Different names of a regular
// file (links, "../x/a.png") are different keys.
std::string order_key_of(const std::string& path);

// Whether write_file writes `path` in place: a descriptor named as a path,
// or (through its links) a device, FIFO or socket.
bool written_in_place(const std::string& path);

// Refuses a path that the operating system would read differently from the
// caller: one ending with '/' (a directory's, where a file is meant: 'b.png/'
// made a folder named b.png), or one holding a NUL byte, where every system call would stop (so
// "a.png\0.jpg" would write JPEG bytes to "a.png"). The error is a
// c10::ValueError (Python's ValueError, as open() raises), starting with
// `what`.
void check_path(const std::string& path, const char* what);

}  // namespace torchimage
