#include "summary/event.h"

#include <cstring>

#include "summary/crc32c.h"

namespace torchimage {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Writes a protobuf message back to front: a nested message's length is
// known once its fields are written, and is then put before them. Fields
// must therefore be written in descending order (they come out ascending).
class ReverseWriter {
 public:
  explicit ReverseWriter(size_t capacity) : buf_(capacity), pos_(capacity) {}

  size_t size() const { return buf_.size() - pos_; }

  void raw(const void* data, size_t n) {
    reserve(n);
    pos_ -= n;
    if (n > 0) std::memcpy(buf_.data() + pos_, data, n);
  }
  void varint(uint64_t v) {
    uint8_t tmp[10];
    size_t n = 0;
    do {
      tmp[n++] = static_cast<uint8_t>((v & 0x7Fu) | (v >= 0x80u ? 0x80u : 0u));
      v >>= 7;
    } while (v != 0);
    raw(tmp, n);
  }
  void le32(uint32_t v) {
    const uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
    raw(b, 4);
  }
  void le64(uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
    raw(b, 8);
  }
  void key(uint32_t field, WireType type) { varint((uint64_t{field} << 3) | type); }

  // Fields (written value first, then key: back to front).
  void double_field(uint32_t field, double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    le64(bits);
    key(field, kFixed64);
  }
  void float_field(uint32_t field, float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    le32(bits);
    key(field, kFixed32);
  }
  // int32 and int64 alike: a negative value is its 64-bit two's complement.
  void int_field(uint32_t field, int64_t v) {
    varint(static_cast<uint64_t>(v));
    key(field, kVarint);
  }
  void bytes_field(uint32_t field, const void* data, size_t n) {
    raw(data, n);
    varint(n);
    key(field, kLengthDelimited);
  }
  void string_field(uint32_t field, const std::string& s) { bytes_field(field, s.data(), s.size()); }
  // A nested message: `mark` is size() before its fields were written.
  void end_message(uint32_t field, size_t mark) {
    varint(size() - mark);
    key(field, kLengthDelimited);
  }
  void packed_doubles(uint32_t field, const std::vector<double>& values) {
    const size_t mark = size();
    for (size_t i = values.size(); i-- > 0;) {
      uint64_t bits;
      std::memcpy(&bits, &values[i], 8);
      le64(bits);
    }
    end_message(field, mark);
  }

  // Frames what was written as one TFRecord. `data_crc_at` is size() before
  // the first field: the 4 bytes written then hold the data's CRC.
  Record frame(size_t data_crc_at) {
    const size_t data_size = size() - data_crc_at;
    const uint32_t data_crc = mask_crc32c(crc32c(buf_.data() + pos_, data_size));
    // The placeholder lies right after the data.
    uint8_t* slot = buf_.data() + pos_ + data_size;
    for (int i = 0; i < 4; ++i) slot[i] = uint8_t(data_crc >> (8 * i));
    le64(data_size);
    const uint32_t length_crc = mask_crc32c(crc32c(buf_.data() + pos_, 8));
    // The length's CRC goes between the length and the data.
    uint8_t length[8];
    std::memcpy(length, buf_.data() + pos_, 8);
    pos_ += 8;
    le32(length_crc);
    raw(length, 8);
    Record r;
    r.offset = pos_;
    r.buffer = std::move(buf_);
    return r;
  }

 private:
  void reserve(size_t n) {
    if (n <= pos_) return;
    const size_t used = size();
    const size_t grown = std::max(buf_.size() * 2, used + n + 64);
    Bytes bigger(grown);
    if (used > 0) std::memcpy(bigger.data() + grown - used, buf_.data() + pos_, used);
    buf_.swap(bigger);
    pos_ = grown - used;
  }

  Bytes buf_;
  size_t pos_;
};

// Starts a record: the placeholder of the data's CRC. Returns the mark that
// frame() takes.
size_t begin_record(ReverseWriter& w) {
  w.le32(0);
  return w.size();
}

// Event fields around a summary whose Value the caller wrote: Summary's
// field 1, Event's 5, then step and wall_time.
Record finish_event(ReverseWriter& w, size_t data_mark, size_t value_mark, int64_t step,
                    double wall_time) {
  w.end_message(1, value_mark);  // Summary.value
  w.end_message(5, data_mark);   // Event.summary (the Summary is all written since data_mark)
  if (step != 0) w.int_field(2, step);
  if (wall_time != 0) w.double_field(1, wall_time);
  return w.frame(data_mark);
}

}  // namespace

Record frame_record(const uint8_t* data, size_t size) {
  ReverseWriter w(size + 16);
  const size_t mark = begin_record(w);
  w.raw(data, size);
  return w.frame(mark);
}

Record version_record(double wall_time) {
  ReverseWriter w(64);
  const size_t mark = begin_record(w);
  w.string_field(3, "brain.Event:2");
  if (wall_time != 0) w.double_field(1, wall_time);
  return w.frame(mark);
}

Record scalar_record(const std::string& tag, float value, int64_t step, double wall_time) {
  ReverseWriter w(64 + tag.size());
  const size_t data = begin_record(w);
  const size_t value_mark = w.size();
  w.float_field(2, value);  // simple_value: in Value's oneof, written even when 0
  w.string_field(1, tag);
  return finish_event(w, data, value_mark, step, wall_time);
}

Record image_record(const std::string& tag, const uint8_t* encoded, size_t size, int64_t height,
                    int64_t width, int64_t colorspace, int64_t step, double wall_time) {
  ReverseWriter w(size + tag.size() + 96);
  const size_t data = begin_record(w);
  const size_t value_mark = w.size();
  const size_t image_mark = w.size();
  w.bytes_field(4, encoded, size);
  if (colorspace != 0) w.int_field(3, colorspace);
  if (width != 0) w.int_field(2, width);
  if (height != 0) w.int_field(1, height);
  w.end_message(4, image_mark);  // Value.image
  w.string_field(1, tag);
  return finish_event(w, data, value_mark, step, wall_time);
}

Record text_record(const std::string& tag, const std::string& text, int64_t step,
                   double wall_time) {
  ReverseWriter w(128 + tag.size() + text.size());
  const size_t data = begin_record(w);
  const size_t value_mark = w.size();
  // Value.tensor: TensorProto{dtype: DT_STRING, tensor_shape {dim {size: 1}}, string_val: [text]}
  const size_t tensor_mark = w.size();
  w.bytes_field(8, text.data(), text.size());
  const size_t shape_mark = w.size();
  const size_t dim_mark = w.size();
  w.int_field(1, 1);              // Dim.size
  w.end_message(2, dim_mark);     // TensorShapeProto.dim
  w.end_message(2, shape_mark);   // TensorProto.tensor_shape
  w.int_field(1, 7);              // TensorProto.dtype = DT_STRING
  w.end_message(8, tensor_mark);  // Value.tensor
  // Value.metadata: SummaryMetadata{plugin_data {plugin_name: "text"}} (the
  // content, TextPluginData{version: 0}, serializes to nothing).
  const size_t metadata_mark = w.size();
  const size_t plugin_mark = w.size();
  w.string_field(1, "text");
  w.end_message(1, plugin_mark);    // SummaryMetadata.plugin_data
  w.end_message(9, metadata_mark);  // Value.metadata
  w.string_field(1, tag);
  return finish_event(w, data, value_mark, step, wall_time);
}

Record histogram_record(const std::string& tag, const Histogram& h, int64_t step,
                        double wall_time) {
  ReverseWriter w(160 + tag.size() + 16 * (h.bucket.size() + h.bucket_limit.size()));
  const size_t data = begin_record(w);
  const size_t value_mark = w.size();
  const size_t histo_mark = w.size();
  if (!h.bucket.empty()) w.packed_doubles(7, h.bucket);
  if (!h.bucket_limit.empty()) w.packed_doubles(6, h.bucket_limit);
  if (h.sum_squares != 0) w.double_field(5, h.sum_squares);
  if (h.sum != 0) w.double_field(4, h.sum);
  if (h.num != 0) w.double_field(3, h.num);
  if (h.max != 0) w.double_field(2, h.max);
  if (h.min != 0) w.double_field(1, h.min);
  w.end_message(5, histo_mark);  // Value.histo
  w.string_field(1, tag);
  return finish_event(w, data, value_mark, step, wall_time);
}

}  // namespace torchimage
