// Private: TensorBoard's event records, encoded by hand.
//
// An event file is a sequence of TFRecords: uint64 length (little-endian),
// masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the data. The
// data is a serialized tensorflow.Event (tensorboard/compat/proto/event.proto):
//
//   Event        1 wall_time double, 2 step int64, 3 file_version string,
//                5 summary Summary
//   Summary      1 value repeated Summary.Value
//   Value        1 tag string, 9 metadata SummaryMetadata, and one of
//                2 simple_value float, 4 image Image, 5 histo HistogramProto,
//                8 tensor TensorProto
//   Image        1 height int32, 2 width int32, 3 colorspace int32,
//                4 encoded_image_string bytes
//   HistogramProto  1 min, 2 max, 3 num, 4 sum, 5 sum_squares double,
//                6 bucket_limit, 7 bucket packed repeated double
//   SummaryMetadata 1 plugin_data PluginData (1 plugin_name string, 2 content bytes)
//   TensorProto  1 dtype enum (DT_STRING = 7), 2 tensor_shape TensorShapeProto
//                (2 dim repeated Dim: 1 size int64), 8 string_val repeated bytes
//
// These are the fields torch.utils.tensorboard writes (and tensorboard's
// EventAccumulator files as scalars, images, histograms and tensors).
// Fields are written in ascending order, zero-valued plain fields omitted
// (proto3), members of Value's oneof always written (they have presence).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/byte_buffer.h"

namespace torchimage {

// One framed record, ready to append: its bytes are buffer[offset, end).
// (Encoded back to front, so that every length is known before it is
// written and a large payload is copied once.)
struct Record {
  Bytes buffer;
  size_t offset = 0;

  const uint8_t* data() const { return buffer.data() + offset; }
  size_t size() const { return buffer.size() - offset; }
};

// The first record of every event file: file_version "brain.Event:2".
Record version_record(double wall_time);

// add_scalar: Summary.Value.simple_value (a float, as torch.utils.tensorboard).
Record scalar_record(const std::string& tag, float value, int64_t step, double wall_time);

// add_image: Summary.Value.image holding an encoded PNG or JPEG.
Record image_record(const std::string& tag, const uint8_t* encoded, size_t size, int64_t height,
                    int64_t width, int64_t colorspace, int64_t step, double wall_time);

// add_text: a DT_STRING tensor of shape [1] with the "text" plugin's
// metadata, under tag (torch.utils.tensorboard appends "/text_summary").
Record text_record(const std::string& tag, const std::string& text, int64_t step,
                   double wall_time);

struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit;
  std::vector<double> bucket;
};

// add_histogram: Summary.Value.histo.
Record histogram_record(const std::string& tag, const Histogram& h, int64_t step,
                        double wall_time);

// The framing alone, of arbitrary data (for tests).
Record frame_record(const uint8_t* data, size_t size);

}  // namespace torchimage
