// Private: the calling thread's encoding context, which every codec reads.
#pragma once

namespace torchimage {

// While alive, encoders on this thread keep each image on this thread
// instead of spreading one image over several (the writer's and
// save_images' workers already use every core). Scopes nest.
class SerialEncodingScope {
 public:
  SerialEncodingScope();
  ~SerialEncodingScope();
  SerialEncodingScope(const SerialEncodingScope&) = delete;
  SerialEncodingScope& operator=(const SerialEncodingScope&) = delete;
};

// Whether an encoder on this thread may use more threads for one image: no
// SerialEncodingScope is alive here and the machine has more than one core.
bool encoder_may_use_threads();

}  // namespace torchimage
