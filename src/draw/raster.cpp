#include "draw/raster.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace torchimage {
namespace draw_detail {
namespace {

// (a * 255 + 127) / 255 rounding, as 8-bit compositing does it everywhere:
// x / 255 rounded to nearest for x in [0, 255 * 255].
inline uint8_t div255(unsigned x) {
  x += 128;
  return static_cast<uint8_t>(((x >> 8) + x) >> 8);
}

inline uint8_t blend(uint8_t alpha, uint8_t under, uint8_t over) {
  return div255(unsigned{under} * (255u - alpha) + unsigned{over} * alpha);
}

// Half-way rounding away from zero (up) and towards zero (down), symmetric
// around 0, on doubles (Draw.c's ROUND_UP and ROUND_DOWN).
inline int round_half_away(double f) {
  return static_cast<int>(f >= 0.0 ? std::floor(f + 0.5) : -std::floor(std::fabs(f) + 0.5));
}
inline int round_half_toward(double f) {
  return static_cast<int>(f >= 0.0 ? std::ceil(f - 0.5) : -std::ceil(std::fabs(f) - 0.5));
}

// The x, y >= 0 quarter of an ellipse whose bounding box is a x b pixels,
// walked from (a, b % 2) to (a % 2, b) on the points of a grid of step 2
// (so that both parities of a and b land on grid points), each step going
// to whichever of the three next candidates lies closest to the curve
// b^2 x^2 + a^2 y^2 = a^2 b^2.
class QuarterWalk {
 public:
  QuarterWalk(int32_t a, int32_t b) {
    if (a < 0 || b < 0) {
      done_ = true;
      return;
    }
    x_ = a;
    y_ = b % 2;
    end_x_ = a % 2;
    end_y_ = b;
    a2_ = int64_t{a} * a;
    b2_ = int64_t{b} * b;
    a2b2_ = a2_ * b2_;
  }

  // The next point, or false once past the last.
  bool next(int32_t& x, int32_t& y) {
    if (done_) return false;
    x = x_;
    y = y_;
    if (x_ == end_x_ && y_ == end_y_) {
      done_ = true;
      return true;
    }
    int32_t nx = x_;
    int32_t ny = y_ + 2;
    int64_t best = miss(nx, ny);
    if (nx > 1) {
      const int64_t diagonal = miss(x_ - 2, y_ + 2);
      if (best > diagonal) {
        nx = x_ - 2;
        ny = y_ + 2;
        best = diagonal;
      }
      if (best > miss(x_ - 2, y_)) {
        nx = x_ - 2;
        ny = y_;
      }
    }
    x_ = nx;
    y_ = ny;
    return true;
  }

 private:
  int64_t miss(int64_t x, int64_t y) const { return std::llabs(a2_ * y * y + b2_ * x * x - a2b2_); }

  bool done_ = false;
  int32_t x_ = 0, y_ = 0, end_x_ = 0, end_y_ = 0;
  int64_t a2_ = 0, b2_ = 0, a2b2_ = 0;
};

struct Span {
  int32_t x0, y, x1;
};

// The horizontal spans of an ellipse ring `w` grid rows thick (w >= a + b:
// filled), in doubled coordinates centred on the ellipse: an outer and an
// inner quarter walk give each row's [l, r], mirrored into four spans.
template <typename Emit>
void ellipse_spans(int32_t a, int32_t b, int32_t w, Emit emit) {
  const int32_t leftmost = a % 2;
  QuarterWalk outer(a, b);
  int32_t py = 0, pl = 0, pr = 0;
  if (w < 1 || !outer.next(pr, py)) return;
  QuarterWalk inner(a - 2 * (w - 1), b - 2 * (w - 1));
  pl = leftmost;
  bool last = false;
  while (!last) {
    const int32_t y = py;
    int32_t l = pl;
    const int32_t r = pr;
    int32_t cx = 0, cy = 0;
    bool more;
    while ((more = outer.next(cx, cy)) && cy <= y) {
    }
    if (!more) {
      last = true;
    } else {
      pr = cx;
      py = cy;
    }
    while ((more = inner.next(cx, cy)) && cy <= y) l = cx;
    pl = more ? cx : leftmost;

    Span spans[4];
    int n = 0;
    if ((l > 0 || l < r) && y > 0) spans[n++] = {l == 0 ? 2 : l, y, r};
    if (y > 0) spans[n++] = {-r, y, -l};
    if (l > 0 || l < r) spans[n++] = {l == 0 ? 2 : l, -y, r};
    spans[n++] = {-r, -y, -l};
    while (n > 0) emit(spans[--n]);  // last in, first drawn
  }
}

}  // namespace

Edge make_edge(int x0, int y0, int x1, int y1) {
  Edge e;
  e.xmin = std::min(x0, x1);
  e.xmax = std::max(x0, x1);
  e.ymin = std::min(y0, y1);
  e.ymax = std::max(y0, y1);
  e.dx = y0 == y1 ? 0.0f : static_cast<float>(x1 - x0) / static_cast<float>(y1 - y0);
  e.x0 = x0;
  e.y0 = y0;
  return e;
}

void Canvas::put(uint8_t* p, Ink ink) const {
  if (blend_) {
    p[0] = blend(ink.a, p[0], ink.r);
    p[1] = blend(ink.a, p[1], ink.g);
    p[2] = blend(ink.a, p[2], ink.b);
  } else {
    p[0] = ink.r;
    p[1] = ink.g;
    p[2] = ink.b;
  }
}

void Canvas::point(int x, int y, Ink ink) {
  if (x >= 0 && x < w_ && y >= 0 && y < h_) {
    put(px_ + (static_cast<size_t>(y) * w_ + x) * 3, ink);
  }
}

void Canvas::hline(int x0, int y, int x1, Ink ink) {
  if (y < 0 || y >= h_) return;
  if (x0 > x1) std::swap(x0, x1);
  if (x0 < 0) {
    x0 = 0;
  } else if (x0 >= w_) {
    return;
  }
  if (x1 < 0) return;
  if (x1 >= w_) x1 = w_ - 1;
  uint8_t* p = px_ + (static_cast<size_t>(y) * w_ + x0) * 3;
  for (int x = x0; x <= x1; ++x, p += 3) put(p, ink);
}

void Canvas::line(int x0, int y0, int x1, int y1, Ink ink) {
  int dx = x1 - x0;
  int dy = y1 - y0;
  const int xs = dx < 0 ? -1 : 1;
  const int ys = dy < 0 ? -1 : 1;
  dx = std::abs(dx);
  dy = std::abs(dy);
  if (dx == 0) {
    for (int i = 0; i < dy; ++i, y0 += ys) point(x0, y0, ink);
  } else if (dy == 0) {
    for (int i = 0; i < dx; ++i, x0 += xs) point(x0, y0, ink);
  } else if (dx > dy) {
    // One point per column; the row steps when the error turns >= 0.
    int e = 2 * dy - dx;
    for (int i = 0; i < dx; ++i, x0 += xs) {
      point(x0, y0, ink);
      if (e >= 0) {
        y0 += ys;
        e -= 2 * dx;
      }
      e += 2 * dy;
    }
  } else {
    int e = 2 * dx - dy;
    for (int i = 0; i < dy; ++i, y0 += ys) {
      point(x0, y0, ink);
      if (e >= 0) {
        x0 += xs;
        e -= 2 * dy;
      }
      e += 2 * dx;
    }
  }
}

void Canvas::fill_polygon(std::vector<Edge>& edges, Ink ink) {
  if (edges.empty()) return;
  std::vector<const Edge*> sloped;
  int ymin = h_ - 1;
  int ymax = 0;
  for (const Edge& e : edges) {
    ymin = std::min(ymin, e.ymin);
    ymax = std::max(ymax, e.ymax);
    if (e.ymin == e.ymax) {
      hline(e.xmin, e.ymin, e.xmax, ink);  // a horizontal edge is drawn as it is
      continue;
    }
    sloped.push_back(&e);
  }
  ymin = std::max(ymin, 0);
  ymax = std::min(ymax, h_);
  // The crossings of each scan line, in float as the filler computes them.
  std::vector<float> xs(sloped.size() * 2);
  const auto x_at = [](const Edge& e, int y) -> float {
    return static_cast<float>(y - e.y0) * e.dx + static_cast<float>(e.x0);
  };
  for (int y = ymin; y <= ymax; ++y) {
    size_t j = 0;
    for (size_t i = 0; i < sloped.size(); ++i) {
      const Edge& cur = *sloped[i];
      if (y < cur.ymin || y > cur.ymax) continue;
      xs[j++] = x_at(cur, y);
      if (y == cur.ymax && y < ymax) {
        // An edge's last row counts twice, so that its span still closes.
        xs[j] = xs[j - 1];
        ++j;
      } else if (cur.dx != 0 && std::round(xs[j - 1]) == xs[j - 1]) {
        // Two sloped edges meeting at a corner on a pixel: the crossing of
        // the earlier edge's slot (indexed by edge, as the filler does) is
        // moved to where the neighbouring row's crossings are.
        for (size_t k = 0; k < i; ++k) {
          const Edge& other = *sloped[k];
          if ((cur.dx > 0 && other.dx <= 0) || (cur.dx < 0 && other.dx >= 0)) continue;
          const bool shared_end = (y == cur.ymin && y == other.ymin) ||
                                  (y == cur.ymax && y == other.ymax);
          if (shared_end && xs[j - 1] == x_at(other, y)) {
            const int offset = y == ymax ? -1 : 1;
            const float adjacent = x_at(cur, y + offset);
            const float adjacent_other = x_at(other, y + offset);
            double moved;
            if (y == cur.ymax) {
              moved = cur.dx > 0 ? std::fmax(adjacent, adjacent_other) + 1
                                 : std::fmin(adjacent, adjacent_other) - 1;
            } else {
              moved = cur.dx > 0 ? std::fmin(adjacent, adjacent_other)
                                 : std::fmax(adjacent, adjacent_other) + 1;
            }
            xs[k] = static_cast<float>(moved);
            break;
          }
        }
      }
    }
    std::sort(xs.begin(), xs.begin() + static_cast<std::ptrdiff_t>(j));
    for (size_t i = 1; i < j; i += 2) {
      hline(round_half_away(xs[i - 1]), y, round_half_toward(xs[i]), ink);
    }
  }
}

void Canvas::polyline_segment(int x0, int y0, int x1, int y1, int width, Ink ink) {
  if (width <= 1) {
    line(x0, y0, x1, y1, ink);
    point(x1, y1, ink);
    return;
  }
  const int dx = x1 - x0;
  const int dy = y1 - y0;
  if (dx == 0 && dy == 0) {
    point(x0, y0, ink);
    return;
  }
  // A quadrilateral around the segment: half the width on each side,
  // rounded up on one side and down on the other.
  const double length = std::hypot(dx, dy);
  const double half = (width - 1) / 2.0;
  const double ratio_max = round_half_away(half) / length;
  const double ratio_min = round_half_toward(half) / length;
  const int dxmin = round_half_toward(ratio_min * dy);
  const int dxmax = round_half_toward(ratio_max * dy);
  const int dymin = round_half_toward(ratio_min * dx);
  const int dymax = round_half_toward(ratio_max * dx);
  const int v[4][2] = {{x0 - dxmin, y0 + dymax},
                       {x1 - dxmin, y1 + dymax},
                       {x1 + dxmax, y1 - dymin},
                       {x0 + dxmax, y0 - dymin}};
  std::vector<Edge> edges;
  for (int i = 0; i < 4; ++i) {
    const int k = (i + 1) % 4;
    edges.push_back(make_edge(v[i][0], v[i][1], v[k][0], v[k][1]));
  }
  fill_polygon(edges, ink);
}

void Canvas::rectangle(int x0, int y0, int x1, int y1, bool fill, int width, Ink ink) {
  if (y0 > y1) std::swap(y0, y1);
  if (fill) {
    if (y0 < 0) {
      y0 = 0;
    } else if (y0 >= h_) {
      return;
    }
    if (y1 < 0) return;
    if (y1 > h_) y1 = h_;
    for (int y = y0; y <= y1; ++y) hline(x0, y, x1, ink);
    return;
  }
  if (width == 0) width = 1;
  // Rows top and bottom full length; columns between them, inwards.
  for (int i = 0; i < width; ++i) {
    hline(x0, y0 + i, x1, ink);
    hline(x0, y1 - i, x1, ink);
    line(x1 - i, y0 + width, x1 - i, y1 - width + 1, ink);
    line(x0 + i, y0 + width, x0 + i, y1 - width + 1, ink);
  }
}

void Canvas::filled_ellipse(int x0, int y0, int x1, int y1, Ink ink) {
  const int a = x1 - x0;
  const int b = y1 - y0;
  if (a < 0 || b < 0) return;
  ellipse_spans(a, b, a + b, [&](const Span& s) {
    hline(x0 + (s.x0 + a) / 2, y0 + (s.y + b) / 2, x0 + (s.x1 + a) / 2, ink);
  });
}

void Canvas::coverage(int x, int y, const uint8_t* mask, int mw, int mh, int pitch, Ink ink) {
  for (int r = 0; r < mh; ++r) {
    const int yy = y + r;
    if (yy < 0 || yy >= h_) continue;
    for (int c = 0; c < mw; ++c) {
      const int xx = x + c;
      if (xx < 0 || xx >= w_) continue;
      const uint8_t m = mask[static_cast<size_t>(r) * pitch + c];
      if (m == 0) continue;
      uint8_t* p = px_ + (static_cast<size_t>(yy) * w_ + xx) * 3;
      p[0] = blend(m, p[0], ink.r);
      p[1] = blend(m, p[1], ink.g);
      p[2] = blend(m, p[2], ink.b);
    }
  }
}

}  // namespace draw_detail
}  // namespace torchimage
