// Private: a raster of RGB pixels and the primitives torchvision's drawing
// functions ask Pillow (9.4) for, rasterized as Pillow's ImageDraw does:
// integer coordinates, the same pixel for every rule (Bresenham lines
// without their last point, outlines drawn inwards, the scan-line polygon
// filler of wide lines, the ellipse walked on a grid of step 2). Written for
// torchimage after reading Pillow's libImaging/Draw.c; only the rules are
// shared.
#pragma once

#include <cstdint>
#include <vector>

namespace torchimage {
namespace draw_detail {

struct Ink {
  uint8_t r, g, b, a;
};

// One edge of a polygon, as the scan-line filler keeps it.
struct Edge {
  int x0, y0;
  int xmin, ymin, xmax, ymax;
  float dx;  // x per y; 0 for a horizontal edge
};

Edge make_edge(int x0, int y0, int x1, int y1);

// RGB pixels, row-major and contiguous (H, W, 3), drawn in place. With
// `blend`, ink is composited with its alpha (Pillow's ImageDraw.Draw(im,
// "RGBA") on an RGB image); without, it replaces the pixels.
class Canvas {
 public:
  Canvas(uint8_t* pixels, int width, int height, bool blend)
      : px_(pixels), w_(width), h_(height), blend_(blend) {}

  int width() const { return w_; }
  int height() const { return h_; }

  void point(int x, int y, Ink ink);
  // Pixels x0..x1 (either order) of row y, clipped.
  void hline(int x0, int y, int x1, Ink ink);
  // A one-pixel line from (x0, y0) up to, not including, (x1, y1).
  void line(int x0, int y0, int x1, int y1, Ink ink);
  // ImageDraw.line((x0, y0, x1, y1), width): one pixel wide (the end point
  // included) for width <= 1, else a filled quadrilateral.
  void polyline_segment(int x0, int y0, int x1, int y1, int width, Ink ink);
  // ImageDraw.rectangle: filled (y clipped to the raster first), or its
  // outline `width` pixels wide inside the corners (0 counts as 1).
  void rectangle(int x0, int y0, int x1, int y1, bool fill, int width, Ink ink);
  // ImageDraw.ellipse(fill=...): the filled ellipse in the box.
  void filled_ellipse(int x0, int y0, int x1, int y1, Ink ink);
  // Blends a coverage mask (0-255, `mw` x `mh`, row-major) at (x, y).
  void coverage(int x, int y, const uint8_t* mask, int mw, int mh, int pitch, Ink ink);

 private:
  void put(uint8_t* p, Ink ink) const;
  void fill_polygon(std::vector<Edge>& edges, Ink ink);

  uint8_t* px_;
  int w_;
  int h_;
  bool blend_;
};

}  // namespace draw_detail
}  // namespace torchimage
