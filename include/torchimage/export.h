#pragma once

#if defined(_WIN32)
#define TORCHIMAGE_API
#else
#define TORCHIMAGE_API __attribute__((visibility("default")))
#endif
