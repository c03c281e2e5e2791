// Runs one diffusers parity case (tools/reference/dit_fixtures.py) through SanaTransformer<B, T>.
#pragma once

#include <string>
#include <vector>

#include "sana/dit/loader.hpp"
#include "support/backends.hpp"

namespace sana::test {

/// Every compiled backend in fp32 and bf16: the whole-model tests' matrix.
using ModelMatrix = std::tuple<
#ifdef SANA_WITH_ONEDNN
    Combo<onednn_backend, float>, Combo<onednn_backend, bf16>,
#endif
#ifdef SANA_WITH_CUDA
    Combo<cuda_backend, float>, Combo<cuda_backend, bf16>,
#endif
    Combo<reference_backend, float>, Combo<reference_backend, bf16>>;

inline std::string dit_data(const std::string& rel) { return std::string(SANA_TEST_DATA_DIR) + "/dit/" + rel; }

/// Block indices from the case's "pag_blocks" metadata ("1,3").
inline std::vector<std::int64_t> pag_blocks_of(const io::SafetensorsFile& f) {
  std::vector<std::int64_t> out;
  if (const std::string* s = f.metadata_value("pag_blocks")) {
    std::size_t pos = 0;
    while (pos < s->size()) {
      const std::size_t comma = std::min(s->find(',', pos), s->size());
      if (comma > pos) out.push_back(std::stoll(s->substr(pos, comma - pos)));
      pos = comma + 1;
    }
  }
  return out;
}

template <class T, std::size_t R>
Tensor<T, R, reference_backend> load_as(const io::SafetensorsFile& f, const std::string& name) {
  return f.load<T, R>(name);
}

/// Runs `model` on the inputs in `f`; returns the output as host fp32. `repeats` > 1 re-runs the
/// forward (workspace steady state) and returns the last result.
template <class B, class T>
Tensor<float, 4, reference_backend> run_case(dit::SanaTransformer<B, T>& model, const io::SafetensorsFile& f,
                                             Workspace<B>& ws, int repeats = 1,
                                             dit::PagVariant pag_variant = dit::PagVariant::diffusers) {
  auto& ctx = test_context<B>();
  auto x = load_as<T, 4>(f, "hidden_states");
  auto y = load_as<T, 3>(f, "encoder_hidden_states");
  auto t = load_as<float, 1>(f, "timestep");
  const std::int64_t Bn = x.size(0);
  Tensor<float, 1, reference_backend> g;
  if (f.contains("guidance")) g = load_as<float, 1>(f, "guidance");
  std::vector<float> mask;
  if (f.contains("encoder_attention_mask")) {
    auto mm = load_as<float, 2>(f, "encoder_attention_mask");
    mask.assign(mm.data(), mm.data() + mm.numel());
  }
  auto xd = to_backend<B>(ctx, x.view());
  auto yd = to_backend<B>(ctx, y.view());
  Tensor<T, 4, B> out({Bn, model.config().out_channels, x.size(2), x.size(3)});
  const auto pag = pag_blocks_of(f);
  model.set_pag_blocks(pag, pag_variant);
  typename dit::SanaTransformer<B, T>::Inputs in;
  in.latents = xd.view();
  in.text = yd.view();
  in.timestep = std::span<const float>(t.data(), static_cast<std::size_t>(t.numel()));
  if (g.defined()) in.guidance = std::span<const float>(g.data(), static_cast<std::size_t>(g.numel()));
  in.text_mask = mask;
  in.pag_perturbed = pag.empty() ? 0 : Bn / 2;
  for (int r = 0; r < repeats; ++r) {
    model.forward(ctx, ws, in, out.view());
    ws.reset();
  }
  auto host = to_host<B>(ctx, TensorView<const T, 4, space_t<B>>(out.view()));
  Tensor<float, 4, reference_backend> res(host.shape());
  for (std::int64_t i = 0; i < host.numel(); ++i) res.data()[i] = to_float(host.data()[i]);
  return res;
}

} // namespace sana::test
