// Private: freeing a replaced file's blocks off the caller's thread.
#pragma once

namespace torchimage {

// Closes `fd` on a background thread, soon.
//
// write_file replaces a file by renaming a new one over it, and the rename
// frees the old file's blocks: on ext4 that is most of the write's time
// (0.2-1 ms for a file of 30-500 KB, against 0.05-0.2 ms for the rest). A
// file's blocks are freed when its last name and its last open descriptor
// are gone, so write_file opens the old file (O_PATH: no read permission
// needed) before the rename and hands the descriptor here; the blocks are
// freed when this thread closes it. Nothing is ever visible under a name: a
// process that exits or is killed first closes its descriptors, and the
// kernel frees the blocks then (after a crash, the file system's own
// recovery of unlinked files does).
//
// Closes on the caller where no thread can start, or where 16 descriptors
// wait already (a caller that replaces files faster than they are freed
// waits, as without this).
void close_later(int fd);

// Returns once every descriptor handed to close_later has been closed.
void finish_closes();

}  // namespace torchimage
