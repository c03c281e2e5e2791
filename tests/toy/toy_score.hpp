// Automatic scoring of the toy model's images: background colour from the border, object colour from the
// pixels far from the background, shape from the coverage profile of the object's box. A C++ port of
// tools/toy/toy_common.py `analyse` (same palette, thresholds and median rules), so the C++ pipeline is
// judged exactly as the training script judged diffusers' images.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace sana::test::toy {

struct Colour {
  const char* name;
  std::array<double, 3> rgb;
};
inline const std::array<Colour, 8> kColours = {{{"red", {220, 40, 40}},
                                               {"green", {40, 170, 60}},
                                               {"blue", {40, 80, 220}},
                                               {"yellow", {240, 220, 40}},
                                               {"orange", {245, 140, 30}},
                                               {"purple", {140, 60, 190}},
                                               {"white", {240, 240, 240}},
                                               {"black", {25, 25, 25}}}};

inline std::string nearest_colour(const std::array<double, 3>& c) {
  std::size_t best = 0;
  double best_d = 1e300;
  for (std::size_t i = 0; i < kColours.size(); ++i) {
    double d = 0;
    for (int k = 0; k < 3; ++k) d += (kColours[i].rgb[k] - c[k]) * (kColours[i].rgb[k] - c[k]);
    if (d < best_d) best_d = d, best = i;
  }
  return kColours[best].name;
}

/// numpy.median: the mean of the two middle values for an even count.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Analysis {
  std::string background, object, shape;
};

/// px: (H, W, 3) uint8.
inline Analysis analyse(const std::uint8_t* px, int h, int w) {
  auto at = [&](int y, int x, int c) { return static_cast<double>(px[(y * w + x) * 3 + c]); };
  // Border: two rows top and bottom and two columns left and right (corners counted twice, as numpy does).
  std::array<std::vector<double>, 3> border;
  auto add = [&](int y, int x) { for (int c = 0; c < 3; ++c) border[c].push_back(at(y, x, c)); };
  for (int y : {0, 1, h - 2, h - 1}) for (int x = 0; x < w; ++x) add(y, x);
  for (int y = 0; y < h; ++y) for (int x : {0, 1, w - 2, w - 1}) add(y, x);
  const std::array<double, 3> bg{median(border[0]), median(border[1]), median(border[2])};
  Analysis out{nearest_colour(bg), "", ""};
  std::vector<double> dist(static_cast<std::size_t>(h * w));
  std::vector<double> masked;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double d = 0;
      for (int c = 0; c < 3; ++c) d += (at(y, x, c) - bg[c]) * (at(y, x, c) - bg[c]);
      dist[y * w + x] = std::sqrt(d);
      if (dist[y * w + x] > 60.0) masked.push_back(dist[y * w + x]);
    }
  if (masked.size() < 12) return out;
  const double cut = median(masked);
  std::array<std::vector<double>, 3> core;
  for (int i = 0; i < h * w; ++i)
    if (dist[i] > 60.0 && dist[i] >= cut)
      for (int c = 0; c < 3; ++c) core[c].push_back(px[i * 3 + c]);
  const std::array<double, 3> fg{median(core[0]), median(core[1]), median(core[2])};
  out.object = nearest_colour(fg);
  // Soft coverage: projection of (pixel − background) onto (object − background).
  const std::array<double, 3> d{fg[0] - bg[0], fg[1] - bg[1], fg[2] - bg[2]};
  const double dd = std::max(d[0] * d[0] + d[1] * d[1] + d[2] * d[2], 1e-6);
  std::vector<double> cov(static_cast<std::size_t>(h * w));
  int y0 = h, y1 = -1, x0 = w, x1 = -1, count = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      double p = 0;
      for (int c = 0; c < 3; ++c) p += (at(y, x, c) - bg[c]) * d[c];
      const double v = std::clamp(p / dd, 0.0, 1.0);
      cov[y * w + x] = v;
      if (v >= 0.5) y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x), ++count;
    }
  if (count < 6) return out;
  const int bh = y1 - y0 + 1, bw = x1 - x0 + 1;
  auto box_mean = [&](int ya, int yb, int xa, int xb) {  // half-open, relative to the box
    double s = 0;
    for (int y = ya; y < yb; ++y) for (int x = xa; x < xb; ++x) s += cov[(y0 + y) * w + x0 + x];
    return s / static_cast<double>((yb - ya) * (xb - xa));
  };
  const int t3 = std::max(1, bh / 3), ch = std::max(1, bh / 4), cw = std::max(1, bw / 4);
  const double top = box_mean(0, t3, 0, bw), bot = box_mean(bh - t3, bh, 0, bw);
  const double corners = (box_mean(0, ch, 0, cw) + box_mean(0, ch, bw - cw, bw) + box_mean(bh - ch, bh, 0, cw) +
                          box_mean(bh - ch, bh, bw - cw, bw)) / 4;
  if (top / std::max(bot, 1e-6) < 0.6) out.shape = "triangle";
  else if (corners >= 0.5) out.shape = "square";
  else out.shape = "circle";
  return out;
}

} // namespace sana::test::toy
