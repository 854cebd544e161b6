// Private: PNG's chunks (length, type, data, CRC-32) and the IDAT engines'
// shared pieces.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/byte_buffer.h"

namespace torchimage {

// PNG's largest IDAT chunk that the engines write (the format's limit is
// 2^31-1 bytes).
constexpr size_t kMaxIdatChunk = size_t{1} << 30;

// CRC-32 of a chunk's type and data (ISA-L's where the build has it: the
// same value, faster).
uint32_t crc_of_chunk(const uint8_t* type_and_data, size_t size);

// Writes a big-endian 32-bit value at `p`.
inline void put_be32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

// Appends one chunk (length, type, data, CRC-32) to `out`.
void write_png_chunk(Bytes& out, const char type[4], const uint8_t* data, size_t size);

// The zlib stream written at chunk_start + 8 of `out` becomes IDAT chunks:
// one if it fits kMaxIdatChunk, else several (rare: > 1 GiB compressed).
void close_idat_chunks(Bytes& out, size_t chunk_start);

}  // namespace torchimage
