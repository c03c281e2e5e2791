/// @file
/// 8-bit RGB PNG writing with tEXt chunks, atomic (temporary file beside the target, fsync, rename), so a
/// failed write never leaves a partial image; and reading any PNG as 8-bit RGB with its size bounded, so a
/// hostile file gives an error naming it rather than a crash or a huge allocation. Needs libpng (PNG::PNG).
#pragma once

#include <png.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/io/atomic_file.hpp"
#include "sana/io/mapped_file.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace io {

namespace detail {
/// libpng's output goes through these into an AtomicFile: a failed write keeps errno and the reason reaches
/// the message ("No space left on device"), where libpng alone would say "Write Error".
struct PngSink {
  AtomicFile* file;
  int err = 0;
  char message[256] = "";
};
inline void png_sink_write(png_structp png, png_bytep data, png_size_t n) {
  auto* s = static_cast<PngSink*>(png_get_io_ptr(png));
  if ((s->err = s->file->try_write(data, n)) != 0) png_error(png, "write failed");
}
inline void png_sink_flush(png_structp) {}
inline void png_sink_error(png_structp png, png_const_charp msg) {
  auto* s = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof s->message, "%s", msg);
  png_longjmp(png, 1);
}
inline void png_sink_warning(png_structp, png_const_charp) {}
} // namespace detail

/// Writes `rgb` (height, width, 3) to `path` with one tEXt chunk per (keyword, text) pair, atomically.
inline void write_png(const std::filesystem::path& path, std::span<const std::uint8_t> rgb, std::int64_t width,
                      std::int64_t height, const std::vector<std::pair<std::string, std::string>>& text = {}) {
  check(width > 0 && height > 0 && static_cast<std::int64_t>(rgb.size()) == width * height * 3, path.string(),
        "PNG data of ", rgb.size(), " bytes does not fit ", width, "x", height, " RGB");
  AtomicFile file(path);
  detail::PngSink sink{&file};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, detail::png_sink_error, detail::png_sink_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  // libpng keeps pointers to the chunk strings until png_write_info; they live in `text` and `keys`.
  std::vector<png_text> chunks(text.size());
  std::vector<std::string> keys;
  keys.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    keys.push_back(text[i].first.substr(0, 79));  // PNG keywords are 1–79 bytes
    chunks[i].compression = PNG_TEXT_COMPRESSION_NONE;
    chunks[i].key = keys.back().data();
    chunks[i].text = const_cast<char*>(text[i].second.c_str());
    chunks[i].text_length = text[i].second.size();
  }
  bool ok = png && info;
  if (ok && setjmp(png_jmpbuf(png))) ok = false;
  else if (ok) {
    png_set_write_fn(png, &sink, detail::png_sink_write, detail::png_sink_flush);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (!chunks.empty()) png_set_text(png, info, chunks.data(), static_cast<int>(chunks.size()));
    png_write_info(png, info);
    for (std::int64_t y = 0; y < height; ++y)
      png_write_row(png, const_cast<png_bytep>(&rgb[static_cast<std::size_t>(y * width * 3)]));
    png_write_end(png, nullptr);
  }
  if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
  if (sink.err) file.fail_errno("writing the PNG", sink.err);
  if (!ok) fail(path.string(), "writing the PNG failed: ", sink.message[0] ? sink.message : "libpng could not start");
  file.commit();
}

/// An image read by `read_png`: (height, width, 3) bytes, row-major.
struct RgbImage {
  std::int64_t width = 0, height = 0;
  std::vector<std::uint8_t> rgb;
};

namespace detail {
struct PngReadError {
  char message[256] = "unknown libpng error";
};
// libpng reports errors through this callback and expects it not to return: keep the message, then
// longjmp back into read_png (which turns it into a sana::error).
inline void png_read_error(png_structp png, png_const_charp msg) {
  auto* e = static_cast<PngReadError*>(png_get_error_ptr(png));
  std::snprintf(e->message, sizeof e->message, "%s", msg);
  png_longjmp(png, 1);
}
inline void png_read_warning(png_structp, png_const_charp) {}  // warnings (e.g. bad CRC in ancillary chunks) are not errors
} // namespace detail

/// Reads `path` as 8-bit RGB (gray, palette and 16-bit are converted; alpha is dropped). Sides above
/// `max_side` pixels, or more than `max_pixels` pixels in all (0: no such limit; callers pass what their
/// memory allows, `max_pixels_why` saying so), are refused from the header, before any pixel memory is allocated
/// or any data inflated.
inline RgbImage read_png(const std::filesystem::path& path, std::int64_t max_side = 16384, std::int64_t max_pixels = 0,
                         const std::string& max_pixels_why = {}) {
  ReadableFile file = ReadableFile::open(path, path.string());
  FILE* f = fdopen(file.fd(), "rb");
  check(f != nullptr, path.string(), "cannot open: ", std::strerror(errno));
  (void)file.release();  // the FILE owns it now
  unsigned char sig[8] = {};
  const bool is_png = std::fread(sig, 1, 8, f) == 8 && png_sig_cmp(sig, 0, 8) == 0;
  if (!is_png) {
    std::fclose(f);
    fail(path.string(), "not a PNG file");
  }
  detail::PngReadError err;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, detail::png_read_error, detail::png_read_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    if (png) png_destroy_read_struct(&png, nullptr, nullptr);
    std::fclose(f);
    fail(path.string(), "out of memory reading the PNG");
  }
  RgbImage img;                    // constructed before setjmp: the longjmp must not skip a destructor
  std::vector<png_bytep> rows;
  bool too_large = false, too_many = false;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(f);
    fail(path.string(), "cannot read the PNG: ", err.message);
  }
  png_init_io(png, f);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  const std::int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  too_many = max_pixels > 0 && w * h > max_pixels;
  too_large = w > max_side || h > max_side || too_many;
  if (!too_large) {
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    if (png_get_interlace_type(png, info) != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    img.width = w;
    img.height = h;
    img.rgb.resize(static_cast<std::size_t>(w * h * 3));
    rows.resize(static_cast<std::size_t>(h));
    for (std::int64_t y = 0; y < h; ++y) rows[static_cast<std::size_t>(y)] = &img.rgb[static_cast<std::size_t>(y * w * 3)];
    png_read_image(png, rows.data());
    png_read_end(png, nullptr);
  }
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
  check(!too_many, path.string(), "PNG of ", w, "x", h, " has more than the ", max_pixels, " pixels ", max_pixels_why);
  check(!too_large, path.string(), "PNG of ", w, "x", h, " exceeds the limit of ", max_side, " px per side");
  return img;
}

} // namespace io
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
