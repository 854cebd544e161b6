#pragma once

/// torchimage: torchvision's make_grid and save_image for LibTorch, exact and fast.
#include <torchimage/animation.h>
#include <torchimage/draw.h>
#include <torchimage/files.h>
#include <torchimage/formats.h>
#include <torchimage/io.h>
#include <torchimage/make_grid.h>
#include <torchimage/save_image.h>
#include <torchimage/save_images.h>
#include <torchimage/summary_writer.h>
#include <torchimage/version.h>
#include <torchimage/writer.h>
