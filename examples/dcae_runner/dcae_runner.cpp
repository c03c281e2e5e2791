// DC-AE component runner.
//   dcae_runner decode <model_dir> <latents.safetensors> [--tensor latent] [--scaled] [--png out.png]
//               [--out-tensor out.safetensors] [--tile PX --stride PX | --budget-mib N] [--expect file:tensor]
//   dcae_runner encode <model_dir> <image.png> --out latents.safetensors [--scaled] [--tile PX --stride PX]
//   dcae_runner compare <a.safetensors> <tensor> <b.safetensors> <tensor> <tolerance>
// <model_dir> holds config.json and (diffusion_pytorch_model|model).safetensors (diffusers' vae/ folder).
// --scaled: the latents are the diffusion model's (z * scaling_factor); decode divides, encode multiplies.
// Images are [-1, 1] tensors; PNGs map them as diffusers' image processor does ((x / 2 + 0.5) * 255, rounded).
// Files are written atomically (temporary file + rename). fp32 on the oneDNN backend when built, else reference.
#include <png.h>

#include "sana/io/png.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "sana/dcae/autoencoder.hpp"
#include "sana/dcae/tiling.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/io/safetensors_writer.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
using RunnerBackend = sana::onednn_backend;
#else
using RunnerBackend = sana::reference_backend;
#endif

using namespace sana;
namespace fs = std::filesystem;
using HostT = Tensor<float, 4, reference_backend>;

namespace {

struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opt;
  bool has(const std::string& k) const { return opt.count(k) > 0; }
  std::string get(const std::string& k, const std::string& d = "") const { return has(k) ? opt.at(k) : d; }
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0) {
      if (s == "--scaled") a.opt[s] = "1";
      else {
        check(i + 1 < argc, "dcae_runner", "option ", s, " needs a value");
        a.opt[s] = argv[++i];
      }
    } else {
      a.pos.push_back(s);
    }
  }
  return a;
}

/// Writes an 8-bit RGB PNG of image b of x (N, 3, H, W) in [-1, 1], atomically.
void write_png(const fs::path& path, const HostT& x, std::int64_t b) {
  check(x.size(1) == 3, "png", "expected 3 channels, got ", x.size(1));
  const std::int64_t h = x.size(2), w = x.size(3);
  std::vector<unsigned char> rgb(static_cast<std::size_t>(h * w * 3));
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t i = 0; i < h * w; ++i) {
      const float v = std::clamp(x.data()[(b * 3 + c) * h * w + i] / 2.0f + 0.5f, 0.0f, 1.0f);
      rgb[static_cast<std::size_t>(i * 3 + c)] = static_cast<unsigned char>(std::lround(v * 255.0f));
    }
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  io::write_png(path, rgb, w, h);
}

/// Reads a PNG as (1, 3, H, W) in [-1, 1] (gray, palette, alpha and 16-bit are converted to 8-bit RGB).
HostT read_png(const fs::path& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  check(f != nullptr, path.string(), "cannot open");
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(f);
    fail(path.string(), "not a readable PNG");
  }
  png_init_io(png, f);
  png_read_info(png, info);
  png_set_expand(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_gray_to_rgb(png);
  png_read_update_info(png, info);
  const std::int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  std::vector<unsigned char> rgb(static_cast<std::size_t>(h * w * 3));
  std::vector<png_bytep> rows(static_cast<std::size_t>(h));
  for (std::int64_t y = 0; y < h; ++y) rows[y] = &rgb[static_cast<std::size_t>(y * w * 3)];
  png_read_image(png, rows.data());
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(f);
  HostT x(Shape<4>{1, 3, h, w});
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t i = 0; i < h * w; ++i) x.data()[c * h * w + i] = rgb[static_cast<std::size_t>(i * 3 + c)] / 255.0f * 2.0f - 1.0f;
  return x;
}

double relative_l2(const HostT& a, const HostT& b) {
  check(a.shape() == b.shape(), "compare", "shapes differ: ", shape_string(a.shape()), " vs ", shape_string(b.shape()));
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    num += std::pow(double(a.data()[i]) - b.data()[i], 2);
    den += std::pow(double(b.data()[i]), 2);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

std::pair<bool, dcae::Tiling> tiling_from(const Args& a) {
  dcae::Tiling t;
  if (!a.has("--tile")) return {false, t};
  t.tile_h = t.tile_w = std::stoll(a.get("--tile"));
  t.stride_h = t.stride_w = std::stoll(a.get("--stride", std::to_string(t.tile_h * 7 / 8)));
  return {true, t};
}

int decode(const Args& a) {
  check(a.pos.size() == 2, "dcae_runner", "decode needs <model_dir> <latents.safetensors>");
  context_t<RunnerBackend> ctx;
  auto model = dcae::AutoencoderDC<RunnerBackend, float>::from_folder(ctx, a.pos[0], {false, true});
  const auto file = io::SafetensorsFile::open(a.pos[1]);
  HostT z = file.load<float, 4>(a.get("--tensor", "latent"));
  if (a.has("--scaled"))
    for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = float(z.data()[i] / model.config.scaling_factor);
  Workspace<RunnerBackend> ws;
  auto [tiled, t] = tiling_from(a);
  if (a.has("--budget-mib")) {
    t = dcae::tiling_for_budget(model.decoder, z.size(0), z.size(3), std::stoull(a.get("--budget-mib")) << 20);
    tiled = true;
    std::cerr << "tile " << t.tile_h << " px, stride " << t.stride_h << " px for the budget\n";
  }
  tiled = tiled && dcae::decode_needs_tiling(model.config, t, z.size(2), z.size(3));
  const std::int64_t f = model.config.spatial_compression();
  Shape<4> os = model.decoder.out_shape(z.shape());
  if (tiled)
    os = {z.size(0), model.config.in_channels, dcae::tiled_decode_extent(z.size(2), t.tile_h / f, t.stride_h / f, f, t.stride_h),
          dcae::tiled_decode_extent(z.size(3), t.tile_w / f, t.stride_w / f, f, t.stride_w)};
  HostT out(os);
  if constexpr (is_host_backend_v<RunnerBackend>) {
    if (tiled)
      dcae::tiled_decode(model.decoder, ctx, ws, z.view(), out.view(), t);
    else
      model.decode(ctx, ws, z.view(), out.view());
  }
  std::cerr << "decoded " << shape_string(z.shape()) << " -> " << shape_string(out.shape()) << (tiled ? " (tiled)" : "")
            << ", workspace high-water " << ws.high_water() / 1048576.0 << " MiB\n";
  if (a.has("--png")) {
    const fs::path p = a.get("--png");
    for (std::int64_t b = 0; b < out.size(0); ++b) {
      fs::path pb = out.size(0) == 1 ? p : p.parent_path() / (p.stem().string() + "_" + std::to_string(b) + p.extension().string());
      write_png(pb, out, b);
    }
  }
  if (a.has("--out-tensor")) {
    const fs::path p = a.get("--out-tensor");
    if (p.has_parent_path()) fs::create_directories(p.parent_path());
    io::SafetensorsWriter w;
    w.add("sample", TensorView<const float, 4>(out.view()));
    w.write(p);
  }
  if (a.has("--expect")) {
    const std::string e = a.get("--expect");
    const auto colon = e.rfind(':');
    const auto ref = io::SafetensorsFile::open(e.substr(0, colon)).load<float, 4>(e.substr(colon + 1));
    const double err = relative_l2(out, ref);
    std::cerr << "relative L2 to " << e << ": " << err << "\n";
    if (!(err <= 1e-4)) return 1;
  }
  return 0;
}

int encode(const Args& a) {
  check(a.pos.size() == 2 && a.has("--out"), "dcae_runner", "encode needs <model_dir> <image.png> --out <file>");
  context_t<RunnerBackend> ctx;
  auto model = dcae::AutoencoderDC<RunnerBackend, float>::from_folder(ctx, a.pos[0], {true, false});
  HostT x = read_png(a.pos[1]);
  const std::int64_t f = model.config.spatial_compression();
  check(x.size(2) % f == 0 && x.size(3) % f == 0, a.pos[1], "image ", x.size(3), "x", x.size(2),
        " must have sides divisible by ", f);
  HostT z(model.encoder.out_shape(x.shape()));
  Workspace<RunnerBackend> ws;
  auto [tiled, t] = tiling_from(a);
  tiled = tiled && (x.size(2) > t.tile_h || x.size(3) > t.tile_w);
  if constexpr (is_host_backend_v<RunnerBackend>) {
    if (tiled)
      dcae::tiled_encode(model.encoder, ctx, ws, x.view(), z.view(), t);
    else
      model.encode(ctx, ws, x.view(), z.view());
  }
  if (a.has("--scaled"))
    for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = float(z.data()[i] * model.config.scaling_factor);
  std::cerr << "encoded " << shape_string(x.shape()) << " -> " << shape_string(z.shape()) << "\n";
  io::SafetensorsWriter w;
  w.add("latent", TensorView<const float, 4>(z.view()));
  const fs::path p = a.get("--out");
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  w.write(p);
  return 0;
}

int compare(int argc, char** argv) {
  check(argc == 7, "dcae_runner", "compare needs <a> <tensor> <b> <tensor> <tolerance>");
  const auto a = io::SafetensorsFile::open(argv[2]).load<float, 4>(argv[3]);
  const auto b = io::SafetensorsFile::open(argv[4]).load<float, 4>(argv[5]);
  const double err = relative_l2(a, b), tol = std::stod(argv[6]);
  std::cout << "relative L2 " << err << " (tolerance " << tol << ")\n";
  return err <= tol ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "decode") return decode(parse(argc, argv));
    if (cmd == "encode") return encode(parse(argc, argv));
    if (cmd == "compare") return compare(argc, argv);
    std::cerr << "usage: dcae_runner decode|encode|compare ... (see the header of dcae_runner.cpp)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
