// `sana dit-run`: one SanaTransformer forward from files, to compare our forward with diffusers'.
//
//   sana dit-run <transformer_dir> <inputs.safetensors> <output.safetensors>
//              [--dtype f32|bf16] [--backend reference|onednn|cuda] [--variant fp16]
//              [--pag-blocks 1,8] [--pag-perturbed N] [--expect-rel-l2 TOL]
//
// Inputs (any float dtype): hidden_states (B, Cin, h, w), encoder_hidden_states (B, L, caption),
// timestep (B), optional guidance (B) and encoder_attention_mask (B, L) of 0/1. PAG blocks default to
// the file's "pag_blocks" metadata (perturbed = B/2 then). The output file gets "output" (B, Cout, h, w)
// in f32. If the inputs also hold "output" (diffusers' result), the relative L2 difference is printed,
// and with --expect-rel-l2 the exit status says whether it is within TOL.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "flags.hpp"
#include "sana/dit/loader.hpp"
#include "sana/io/safetensors_writer.hpp"
#ifdef SANA_WITH_ONEDNN
#include "sana/backends/onednn/onednn.hpp"
#endif
#ifdef SANA_WITH_CUDA
#include "sana/backends/cuda/cuda.hpp"
#endif

namespace sana_cli {
using namespace sana;

namespace {
struct Options {
  std::string model, inputs, output, dtype = "f32", backend = "reference", variant;
  std::vector<std::int64_t> pag_blocks;
  bool pag_given = false;
  std::int64_t pag_perturbed = -1;
  double expect = -1;
};

std::vector<std::int64_t> parse_list(const std::string& s) {
  std::vector<std::int64_t> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    const std::size_t comma = std::min(s.find(',', pos), s.size());
    if (comma > pos) out.push_back(parse_number<std::int64_t>("--pag-blocks", s.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

template <class B, class T>
int run(const Options& o) {
  context_t<B> ctx;
  const auto t0 = std::chrono::steady_clock::now();
  auto model = dit::load_transformer<B, T>(ctx, o.model, io::FolderOptions{o.variant});
  const auto f = io::SafetensorsFile::open(o.inputs);
  auto x = f.load<T, 4>("hidden_states");
  auto y = f.load<T, 3>("encoder_hidden_states");
  auto t = f.load<float, 1>("timestep");
  const std::int64_t Bn = x.size(0);
  Tensor<float, 1, reference_backend> g;
  if (f.contains("guidance")) g = f.load<float, 1>("guidance");
  std::vector<float> mask;
  if (f.contains("encoder_attention_mask")) {
    auto m = f.load<float, 2>("encoder_attention_mask");
    mask.assign(m.data(), m.data() + m.numel());
  }
  std::vector<std::int64_t> pag = o.pag_blocks;
  if (!o.pag_given)
    if (const std::string* s = f.metadata_value("pag_blocks")) pag = parse_list(*s);
  model->set_pag_blocks(pag);
  auto xd = to_backend<B>(ctx, x.view());
  auto yd = to_backend<B>(ctx, y.view());
  Tensor<T, 4, B> out({Bn, model->config().out_channels, x.size(2), x.size(3)});
  typename dit::SanaTransformer<B, T>::Inputs in;
  in.latents = xd.view();
  in.text = yd.view();
  in.timestep = std::span<const float>(t.data(), static_cast<std::size_t>(t.numel()));
  if (g.defined()) in.guidance = std::span<const float>(g.data(), static_cast<std::size_t>(g.numel()));
  in.text_mask = mask;
  in.pag_perturbed = o.pag_perturbed >= 0 ? o.pag_perturbed : (pag.empty() ? 0 : Bn / 2);
  Workspace<B> ws;
  const auto t1 = std::chrono::steady_clock::now();
  model->forward(ctx, ws, in, out.view());
  backend_traits<B>::synchronize(ctx);
  const auto t2 = std::chrono::steady_clock::now();
  auto host = to_host<B>(ctx, TensorView<const T, 4, space_t<B>>(out.view()));
  Tensor<float, 4, reference_backend> res(host.shape());
  for (std::int64_t i = 0; i < host.numel(); ++i) res.data()[i] = to_float(host.data()[i]);
  io::SafetensorsWriter w;
  w.add("output", TensorView<const float, 4>(res.view()));
  w.write(o.output);
  std::printf("%s: %lld parameters, load %.2f s, forward %.3f s (%s, %s), output (%lld, %lld, %lld, %lld) -> %s\n",
              o.model.c_str(), static_cast<long long>(model->parameter_count()),
              std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count(),
              o.backend.c_str(), o.dtype.c_str(), static_cast<long long>(res.size(0)), static_cast<long long>(res.size(1)),
              static_cast<long long>(res.size(2)), static_cast<long long>(res.size(3)), o.output.c_str());
  if (f.contains("output")) {
    auto want = f.load<float, 4>("output");
    if (want.shape() != res.shape()) {
      std::fprintf(stderr, "reference output has another shape\n");
      return 1;
    }
    double num = 0, den = 0;
    for (std::int64_t i = 0; i < res.numel(); ++i) {
      const double d = double(res.data()[i]) - want.data()[i];
      num += d * d;
      den += double(want.data()[i]) * want.data()[i];
    }
    const double rel = std::sqrt(num / std::max(den, 1e-300));
    std::printf("relative L2 vs the inputs' \"output\": %.3e\n", rel);
    if (o.expect >= 0 && !(rel <= o.expect)) {
      std::fprintf(stderr, "FAIL: above the expected %.3e\n", o.expect);
      return 1;
    }
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: sana dit-run <transformer_dir> <inputs.safetensors> <output.safetensors> [--dtype f32|bf16]\n"
               "       [--backend reference|onednn|cuda] [--variant fp16] [--pag-blocks 1,8] [--pag-perturbed N]\n"
               "       [--expect-rel-l2 TOL]\n");
  return 2;
}
} // namespace

int cmd_dit_run(std::span<const std::string_view> args) {
  Options o;
  std::vector<std::string> pos;
  const int argc = static_cast<int>(args.size());
  for (int i = 0; i < argc; ++i) {
    const std::string a(args[i]);
    if (a == "--help" || a == "-h") return usage(), 0;
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw error("missing value after " + a);
      return std::string(args[++i]);
    };
    try {
      if (a == "--dtype") o.dtype = next();
      else if (a == "--backend") o.backend = next();
      else if (a == "--variant") o.variant = next();
      else if (a == "--pag-blocks") { o.pag_blocks = parse_list(next()); o.pag_given = true; }
      else if (a == "--pag-perturbed") o.pag_perturbed = parse_number<std::int64_t>(a, next());
      else if (a == "--expect-rel-l2") o.expect = parse_number<double>(a, next());
      else if (a.rfind("--", 0) == 0) return usage();
      else pos.push_back(a);
    } catch (const UsageError& e) {
      std::fprintf(stderr, "sana dit-run: %s\n", e.message.c_str());
      return usage();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return usage();
    }
  }
  if (pos.size() != 3) return usage();
  o.model = pos[0];
  o.inputs = pos[1];
  o.output = pos[2];
  try {
    const bool bf = o.dtype == "bf16";
    if (!bf && o.dtype != "f32") return usage();
    if (o.backend == "reference") return bf ? run<reference_backend, bf16>(o) : run<reference_backend, float>(o);
#ifdef SANA_WITH_ONEDNN
    if (o.backend == "onednn") return bf ? run<onednn_backend, bf16>(o) : run<onednn_backend, float>(o);
#endif
#ifdef SANA_WITH_CUDA
    if (o.backend == "cuda") return bf ? run<cuda_backend, bf16>(o) : run<cuda_backend, float>(o);
#endif
    std::fprintf(stderr, "backend '%s' is not compiled in\n", o.backend.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

} // namespace sana_cli
