// `sana decode` and `sana encode-image`: the DC-AE on its own (diffusers' vae/ folder), for checking it
// against diffusers and for round trips. Latents and images travel as safetensors; images also as PNGs,
// mapped as diffusers' image processor does ((x / 2 + 0.5)·255, clamped, rounded).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "flags.hpp"
#include "sana/core/machine_memory.hpp"
#include "sana/dcae/autoencoder.hpp"
#include "sana/dcae/tiling.hpp"
#include "sana/io/png.hpp"
#include "sana/io/safetensors.hpp"
#include "sana/io/safetensors_writer.hpp"
#include "sana/pipeline/image.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif
#ifdef SANA_WITH_CUDA
#include "sana/backends/cuda/cuda.hpp"
#endif

namespace sana_cli {
namespace {
namespace fs = std::filesystem;
using HostF = sana::Tensor<float, 4, sana::reference_backend>;

constexpr const char* kDecodeHelp = R"(usage: sana decode VAE_DIR LATENTS.safetensors [flags]

Decodes latents with the DC-AE decoder of VAE_DIR (diffusers' vae/ folder: config.json + weights).
  --tensor NAME          the fp32 tensor (N, C, h, w) to decode (default "latent")
  --scaled               the latents are the diffusion model's (z·scaling_factor): divide first
  --png PATH             write the image(s) as PNG (several: _0, _1, ... suffixes)
  --out-tensor PATH      write the decoded images (N, 3, H, W) as tensor "sample"
  --tile PX [--stride PX]   decode in tiles of PX pixels (stride default 7/8 of the tile); with cuda the
                         tiles are decoded on the GPU and blended on the host
  --budget-mib N         pick the largest tile whose decode fits N MiB of workspace
  --expect FILE:TENSOR   compare with a reference; exit 1 when relative L2 > --tolerance (default 1e-4)
  --backend cpu|cuda     (default cpu)      --dtype f32|bf16   (default f32)
)";

constexpr const char* kEncodeHelp = R"(usage: sana encode-image VAE_DIR IMAGE.png --out LATENTS.safetensors [flags]

Encodes an RGB PNG with the DC-AE encoder of VAE_DIR into tensor "latent" (1, C, H/f, W/f).
  --scaled               multiply by scaling_factor (the latents the diffusion model sees)
  --tile PX [--stride PX]   encode in tiles; cpu only
  --backend cpu|cuda     (default cpu)      --dtype f32|bf16   (default f32)
)";

struct Args {
  std::vector<std::string> pos;
  std::string tensor = "latent", png, out_tensor, out, expect, backend = "cpu", dtype = "f32";
  bool scaled = false;
  std::int64_t tile = 0, stride = 0;
  std::uint64_t budget_mib = 0;
  double tolerance = 1e-4;
};

template <class N>
N positive(std::string_view flag, const std::string& v) {
  const N n = parse_number<N>(flag, v);
  if (!(n > 0)) throw UsageError{std::string(flag) + " expects a positive number, got '" + v + "'"};
  return n;
}

Args parse(std::span<const std::string_view> args) {
  Args a;
  for (FlagCursor flags(args); !flags.done();) {
    const std::string_view f = flags.next();
    auto value = [&] { return flags.value(); };
    if (f == "--tensor") a.tensor = value();
    else if (f == "--scaled") a.scaled = true;
    else if (f == "--png") a.png = value();
    else if (f == "--out-tensor") a.out_tensor = value();
    else if (f == "--out") a.out = value();
    else if (f == "--tile") a.tile = parse_number_in<std::int64_t>(f, value(), 1, 16384);
    else if (f == "--stride") a.stride = parse_number_in<std::int64_t>(f, value(), 1, 16384);
    else if (f == "--budget-mib") a.budget_mib = positive<std::uint64_t>(f, value());
    else if (f == "--expect") a.expect = value();
    else if (f == "--tolerance") a.tolerance = positive<double>(f, value());
    else if (f == "--backend") a.backend = value();
    else if (f == "--dtype") a.dtype = value();
    else if (f.starts_with("-")) throw UsageError{"unknown flag '" + std::string(f) + "'"};
    else a.pos.emplace_back(f);
  }
  if (a.backend != "cpu" && a.backend != "cuda") throw UsageError{"--backend must be cpu or cuda, got '" + a.backend + "'"};
  if (a.dtype != "f32" && a.dtype != "bf16") throw UsageError{"--dtype must be f32 or bf16, got '" + a.dtype + "'"};
  if (a.stride && !a.tile) throw UsageError{"--stride needs --tile"};
  if (a.tile && a.stride > a.tile) throw UsageError{"--stride must not exceed --tile"};
  // Tiles overlap by tile - stride; below a quarter of the tile the work grows without bound for no gain.
  if (a.tile && a.stride && a.stride * 4 < a.tile) throw UsageError{"--stride must be at least a quarter of --tile"};
  if (a.tile && a.backend == "cuda" && !a.out.empty()) throw UsageError{"tiled encoding runs on the cpu backend only"};
  if (!a.expect.empty() && a.expect.rfind(':') == std::string::npos)
    throw UsageError{"--expect takes FILE:TENSOR, got '" + a.expect + "'"};
  return a;
}

std::optional<sana::dcae::Tiling> tiling_from(const Args& a) {
  if (!a.tile) return std::nullopt;
  sana::dcae::Tiling t;
  t.tile_h = t.tile_w = a.tile;
  t.stride_h = t.stride_w = a.stride ? a.stride : a.tile * 7 / 8;
  return t;
}

double relative_l2(const HostF& a, const HostF& b) {
  using namespace sana;
  check(a.shape() == b.shape(), "compare", "shapes differ: ", shape_string(a.shape()), " vs ", shape_string(b.shape()));
  double num = 0, den = 0;
  for (std::int64_t i = 0; i < a.numel(); ++i) {
    num += std::pow(double(a.data()[i]) - b.data()[i], 2);
    den += std::pow(double(b.data()[i]), 2);
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

template <class B, class T>
sana::Tensor<T, 4, B> upload(sana::context_t<B>& ctx, const HostF& x) {
  sana::Tensor<T, 4, sana::reference_backend> h(x.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) h.data()[i] = T(x.data()[i]);
  return sana::to_backend<B>(ctx, sana::TensorView<const T, 4, sana::host_space>(h.view()));
}

template <class B, class T>
HostF download(sana::context_t<B>& ctx, const sana::Tensor<T, 4, B>& x) {
  auto h = sana::to_host<B>(ctx, sana::TensorView<const T, 4, sana::space_t<B>>(x.view()));
  HostF out(h.shape());
  for (std::int64_t i = 0; i < h.numel(); ++i) out.data()[i] = sana::to_float(h.data()[i]);
  return out;
}

fs::path numbered(const fs::path& p, std::int64_t i, std::int64_t n) {
  if (n == 1) return p;
  return p.parent_path() / (p.stem().string() + "_" + std::to_string(i) + p.extension().string());
}

template <class B, class T>
int decode(const Args& a) {
  using namespace sana;
  if (a.pos.size() != 2) throw UsageError{"decode needs VAE_DIR LATENTS.safetensors (see sana decode --help)"};
  context_t<B> ctx;
  auto model = dcae::AutoencoderDC<B, T>::from_folder(ctx, a.pos[0], {false, true});
  const auto file = io::SafetensorsFile::open(a.pos[1]);
  check(file.contains(a.tensor), a.pos[1], "has no tensor \"", a.tensor, "\" (choose one with --tensor)");
  HostF z = file.load<float, 4>(a.tensor);
  check(z.size(1) == model.config.latent_channels, a.pos[1], "\"", a.tensor, "\" has ", z.size(1),
        " channels, the decoder takes ", model.config.latent_channels);
  if (a.scaled)
    for (std::int64_t i = 0; i < z.numel(); ++i) z.data()[i] = float(z.data()[i] / model.config.scaling_factor);
  Workspace<B> ws;
  std::optional<dcae::Tiling> tiling = tiling_from(a);
  if (a.budget_mib) tiling = dcae::tiling_for_budget(model.decoder, z.size(0), z.size(3), a.budget_mib << 20);
  if (tiling && !dcae::decode_needs_tiling(model.config, *tiling, z.size(2), z.size(3))) tiling.reset();
  const std::int64_t f = model.config.spatial_compression();
  Shape<4> os = model.decoder.out_shape(z.shape());
  if (tiling)
    os = {z.size(0), model.config.in_channels,
          dcae::tiled_decode_extent(z.size(2), tiling->tile_h / f, tiling->stride_h / f, f, tiling->stride_h),
          dcae::tiled_decode_extent(z.size(3), tiling->tile_w / f, tiling->stride_w / f, f, tiling->stride_w)};
  {
    const double out_bytes = static_cast<double>(checked_numel(os, "decode")) * (4.0 + sizeof(T) * (tiling ? 2 : 1));
    const Shape<4> planned = tiling ? Shape<4>{z.size(0), z.size(1), tiling->tile_h / f, tiling->tile_w / f} : z.shape();
    require_memory(static_cast<double>(model.decoder.plan_bytes(planned)) + out_bytes, a.pos[1],
                   "decoding " + shape_string(z.shape()), tiling ? "" : "; decode in tiles (--tile, --budget-mib)");
  }
  auto zb = upload<B, T>(ctx, z);
  HostF img;  // (N, 3, H, W)
  if (tiling) {  // tiles decoded on the backend, blended on the host
    Tensor<T, 4, reference_backend> out(os);
    dcae::tiled_decode(model.decoder, ctx, ws, TensorView<const T, 4, space_t<B>>(zb.view()), out.view(), *tiling);
    img = HostF(os);
    for (std::int64_t i = 0; i < out.numel(); ++i) img.data()[i] = to_float(out.data()[i]);
  } else {
    Tensor<T, 4, B> out(os);
    model.decode(ctx, ws, TensorView<const T, 4, space_t<B>>(zb.view()), out.view());
    img = download(ctx, out);
  }
  std::fprintf(stderr, "decoded %s -> %s%s, workspace high-water %.1f MiB\n", shape_string(z.shape()).c_str(),
               shape_string(img.shape()).c_str(), tiling ? " (tiled)" : "", ws.high_water() / 1048576.0);
  if (!a.png.empty()) {
    check(img.size(1) == 3, a.png, "a PNG needs 3 channels, the decoder makes ", img.size(1));
    const std::int64_t H = img.size(2), W = img.size(3);
    std::vector<std::uint8_t> px(static_cast<std::size_t>(H * W * 3));
    for (std::int64_t b = 0; b < img.size(0); ++b) {
      pipeline::to_pixels(TensorView<const float, 3>(img.data() + b * 3 * H * W, {3, H, W}), px);
      io::write_png(numbered(a.png, b, img.size(0)), px, W, H);
    }
  }
  if (!a.out_tensor.empty()) {
    io::SafetensorsWriter w;
    w.add("sample", TensorView<const float, 4>(img.view()));
    w.write(a.out_tensor);
  }
  if (!a.expect.empty()) {
    const auto colon = a.expect.rfind(':');
    const auto ref = io::SafetensorsFile::open(a.expect.substr(0, colon)).load<float, 4>(a.expect.substr(colon + 1));
    const double err = relative_l2(img, ref);
    std::printf("relative L2 to %s: %g (tolerance %g)\n", a.expect.c_str(), err, a.tolerance);
    if (!(err <= a.tolerance)) return 1;
  }
  return 0;
}

/// The most pixels an image may have for encode-image to fit this machine's memory: the image buffers (bytes,
/// fp32, the backend copy) and the encoder's planned region, per pixel (whole image) or one tile's (tiled).
template <class T, class Model>
std::int64_t max_encode_pixels(const Model& model, const std::optional<sana::dcae::Tiling>& tiling) {
  const std::uint64_t have = sana::machine_memory_bytes();
  if (have == 0) return 0;
  const std::int64_t side = 8 * model.config.spatial_compression();
  const double planned = static_cast<double>(model.encoder.plan_bytes(sana::Shape<4>{1, model.config.in_channels, side, side}));
  double per_pixel = 3.0 + 12.0 + 3.0 * sizeof(T), fixed = 0;
  if (tiling) fixed = planned / static_cast<double>(side * side) * static_cast<double>(tiling->tile_h * tiling->tile_w);
  else per_pixel += planned / static_cast<double>(side * side);
  return static_cast<std::int64_t>(std::max(0.0, (static_cast<double>(have) - fixed) / per_pixel));
}

template <class B, class T>
int encode(const Args& a) {
  using namespace sana;
  if (a.pos.size() != 2 || a.out.empty())
    throw UsageError{"encode-image needs VAE_DIR IMAGE.png --out LATENTS.safetensors (see sana encode-image --help)"};
  context_t<B> ctx;
  auto model = dcae::AutoencoderDC<B, T>::from_folder(ctx, a.pos[0], {true, false});
  const io::RgbImage png = io::read_png(a.pos[1], 16384, max_encode_pixels<T>(model, tiling_from(a)),
                                        "this machine's memory allows encoding");
  const std::int64_t f = model.config.spatial_compression(), H = png.height, W = png.width;
  check(H % f == 0 && W % f == 0, a.pos[1], "image ", W, "x", H, " must have sides divisible by ", f);
  check(model.config.in_channels == 3, a.pos[0], "the encoder takes ", model.config.in_channels, " channels, a PNG has 3");
  HostF x(Shape<4>{1, 3, H, W});  // (1, 3, H, W) in [-1, 1]
  for (std::int64_t c = 0; c < 3; ++c)
    for (std::int64_t i = 0; i < H * W; ++i)
      x.data()[c * H * W + i] = png.rgb[static_cast<std::size_t>(i * 3 + c)] / 255.0f * 2.0f - 1.0f;
  auto xb = upload<B, T>(ctx, x);
  Tensor<T, 4, B> z(model.encoder.out_shape(x.shape()));  // (1, C, H/f, W/f)
  Workspace<B> ws;
  const auto tiling = tiling_from(a);
  bool tiled = false;
  if constexpr (is_host_backend_v<B>) {
    if (tiling && (H > tiling->tile_h || W > tiling->tile_w)) {
      dcae::tiled_encode(model.encoder, ctx, ws, TensorView<const T, 4, host_space>(xb.view()), z.view(), *tiling);
      tiled = true;
    }
  }
  if (!tiled) model.encode(ctx, ws, TensorView<const T, 4, space_t<B>>(xb.view()), z.view());
  HostF zh = download(ctx, z);
  if (a.scaled)
    for (std::int64_t i = 0; i < zh.numel(); ++i) zh.data()[i] = float(zh.data()[i] * model.config.scaling_factor);
  std::fprintf(stderr, "encoded %s -> %s%s\n", shape_string(x.shape()).c_str(), shape_string(zh.shape()).c_str(),
               tiled ? " (tiled)" : "");
  io::SafetensorsWriter w;
  w.add("latent", TensorView<const float, 4>(zh.view()));
  w.write(a.out);
  return 0;
}

template <template <class, class> class Fn>
int dispatch(const Args& a) {
  if (a.backend == "cuda") {
#ifdef SANA_WITH_CUDA
    return a.dtype == "bf16" ? Fn<sana::cuda_backend, sana::bf16>::run(a) : Fn<sana::cuda_backend, float>::run(a);
#else
    throw UsageError{"--backend cuda: this sana was built without the CUDA backend"};
#endif
  }
#ifdef SANA_WITH_ONEDNN
  using Cpu = sana::onednn_backend;
#else
  using Cpu = sana::reference_backend;
#endif
  return a.dtype == "bf16" ? Fn<Cpu, sana::bf16>::run(a) : Fn<Cpu, float>::run(a);
}

template <class B, class T>
struct Decode {
  static int run(const Args& a) { return decode<B, T>(a); }
};
template <class B, class T>
struct Encode {
  static int run(const Args& a) { return encode<B, T>(a); }
};

template <template <class, class> class Fn>
int main_of(const char* name, const char* help, std::span<const std::string_view> args) {
  for (auto s : args)
    if (s == "-h" || s == "--help") {
      std::fputs(help, stdout);
      return 0;
    }
  try {
    return dispatch<Fn>(parse(args));
  } catch (const UsageError& e) {
    std::fprintf(stderr, "sana %s: %s\n", name, e.message.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sana %s: %s\n", name, e.what());
    return 1;
  }
}

} // namespace

int cmd_decode(std::span<const std::string_view> args) { return main_of<Decode>("decode", kDecodeHelp, args); }
int cmd_encode_image(std::span<const std::string_view> args) {
  return main_of<Encode>("encode-image", kEncodeHelp, args);
}

} // namespace sana_cli
