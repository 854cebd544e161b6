// PNG chunks: CRCs, chunk writing, and IDAT chunking of a finished stream.
#include "codecs/png/png_chunks.h"

#include <algorithm>
#include <vector>

#include <c10/util/Exception.h>
#include <zlib.h>

#ifdef TORCHIMAGE_HAVE_ISAL
#include <isa-l/crc.h>
#endif

namespace torchimage {

uint32_t crc_of_chunk(const uint8_t* type_and_data, size_t size) {
#ifdef TORCHIMAGE_HAVE_ISAL
  return crc32_gzip_refl(0, type_and_data, size);  // the same CRC-32, faster
#endif
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib's crc32 takes uInt lengths; feed in pieces for huge chunks.
  while (size > 0) {
    const uInt piece = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, type_and_data, piece);
    type_and_data += piece;
    size -= piece;
  }
  return static_cast<uint32_t>(crc);
}

void write_png_chunk(Bytes& out, const char type[4], const uint8_t* data, size_t size) {
  TORCH_CHECK(size <= 0x7fffffffu, "encode_png: chunk of ", size, " bytes exceeds PNG's limit");
  append_be32(out, static_cast<uint32_t>(size));
  const size_t start = out.size();
  append(out, type, 4);
  if (size) append(out, data, size);
  append_be32(out, crc_of_chunk(out.data() + start, size + 4));
}

void close_idat_chunks(Bytes& out, size_t chunk_start) {
  const size_t length = out.size() - chunk_start - 8;
  if (length <= kMaxIdatChunk) {
    uint8_t* chunk = out.data() + chunk_start;
    put_be32(chunk, static_cast<uint32_t>(length));
    std::memcpy(chunk + 4, "IDAT", 4);
    append_be32(out, crc_of_chunk(chunk + 4, length + 4));
    return;
  }
  Bytes stream(out.begin() + static_cast<std::ptrdiff_t>(chunk_start + 8), out.end());
  out.resize(chunk_start);
  for (size_t done = 0; done < stream.size(); done += kMaxIdatChunk) {
    write_png_chunk(out, "IDAT", stream.data() + done, std::min(kMaxIdatChunk, stream.size() - done));
  }
}

}  // namespace torchimage
