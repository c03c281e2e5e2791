/// @file
/// `dit::MergedLoras<B, T>`: LoRAs merged into a SanaTransformer's weights, and taken out again.
///   auto file = std::make_shared<const dit::LoraFile>(dit::read_lora_file("style.safetensors"));
///   dit::MergedLoras<B, T> loras;
///   loras.merge(model, ctx, {{file, 0.8f}});   // W ← cast_T(W + Σ scale · scaling · up · down), in fp32
///   loras.unmerge(model, ctx);                 // the weights exactly as they were
/// Every adapter's update of a weight is summed in fp32 on the backend, then cast to T once, so a merged LoRA
/// costs nothing per step. The q/k/v of self-attention and the k/v of cross-attention are stored fused: their
/// keys (`attn1.to_q.weight`, ...) are row blocks of the fused tensor, and a LoRA on one of them changes only
/// its rows. Everything is checked before any weight changes: a module that matches no layer, or factors whose
/// shapes do not fit it, is an error naming the file and module, and the model stays as it was.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "sana/core/tensor.hpp"
#include "sana/dit/lora_file.hpp"
#include "sana/dit/transformer.hpp"
#include "sana/ops/elementwise.hpp"
#include "sana/ops/linear.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace dit {

/// One LoRA file with the weight it is merged at (diffusers' set_adapters weight / fuse_lora lora_scale).
struct LoraAdapter {
  std::shared_ptr<const LoraFile> file;
  float scale = 1.0f;
};

namespace detail {
/// A parameter as merging sees it: the data and the stored shape.
template <class T>
struct LoraTarget {
  T* data = nullptr;
  std::vector<std::int64_t> shape;
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

/// Does `l` fit the weight of shape `w`: up (out, r), down (r, in) for a Linear or (r, in, kh, kw) for a conv
/// (also (r, in) for a 1×1 conv)?
inline bool lora_fits(const LoraLayer& l, const std::vector<std::int64_t>& w) {
  if (w.size() != 2 && w.size() != 4) return false;
  if (l.up_shape[0] != w[0]) return false;
  if (l.down_shape.size() == w.size())
    return std::equal(w.begin() + 1, w.end(), l.down_shape.begin() + 1);
  return w.size() == 4 && l.down_shape.size() == 2 && w[2] == 1 && w[3] == 1 && l.down_shape[1] == w[1];
}

inline std::string dims_string(const std::vector<std::int64_t>& s) {
  std::string o = "(";
  for (std::size_t i = 0; i < s.size(); ++i) o += (i ? ", " : "") + std::to_string(s[i]);
  return o + ")";
}
} // namespace detail

template <class B, class T>
class MergedLoras {
public:
  /// One weight's updates: every (layer, coefficient) that adds to it.
  struct Update {
    const LoraLayer* layer;
    float coef;
  };

  /// Merges `adapters` (replacing whatever this object merged before). Throws before changing anything when a
  /// module matches no parameter or its factors do not fit.
  void merge(SanaTransformer<B, T>& model, context_t<B>& ctx, std::span<const LoraAdapter> adapters) {
    unmerge(model, ctx);
    auto targets = parameter_table(model);
    std::map<std::string, std::vector<Update>> weights, biases;
    for (const LoraAdapter& a : adapters) plan(a, targets, weights, biases);
    adapters_.assign(adapters.begin(), adapters.end());
    try {
      for (const auto& [key, ups] : weights) merge_weight(ctx, key, targets.at(key), ups);
      for (const auto& [key, ups] : biases) merge_bias(ctx, key, targets.at(key), ups);
    } catch (...) {
      unmerge(model, ctx);
      throw;
    }
  }

  /// Restores every weight `merge` changed, bit for bit.
  void unmerge(SanaTransformer<B, T>& model, context_t<B>& ctx) {
    if (originals_.empty()) return;
    auto targets = parameter_table(model);
    for (const auto& [key, values] : originals_) {
      const auto it = targets.find(key);
      check(it != targets.end(), "lora", "parameter '", key, "' vanished from the transformer");
      backend_traits<B>::upload(ctx, it->second.data, values.data(), values.size() * sizeof(T));
    }
    originals_.clear();
    adapters_.clear();
  }

  bool empty() const { return originals_.empty(); }
  /// The adapters merged now, in order.
  const std::vector<LoraAdapter>& adapters() const { return adapters_; }
  /// The parameter keys merging changed.
  std::vector<std::string> changed_keys() const {
    std::vector<std::string> k;
    for (const auto& [key, v] : originals_) k.push_back(key);
    return k;
  }

private:
  static std::map<std::string, detail::LoraTarget<T>> parameter_table(SanaTransformer<B, T>& model) {
    std::map<std::string, detail::LoraTarget<T>> t;
    model.visit_parameters([&](const std::string& key, const auto& view) {
      detail::LoraTarget<T> e{view.data(), {}};
      for (std::size_t i = 0; i < view.rank; ++i) e.shape.push_back(view.size(i));
      t[key] = e;
    });
    return t;
  }

  /// Checks one adapter against the model and files its updates under the weight (and bias) they change.
  static void plan(const LoraAdapter& a, const std::map<std::string, detail::LoraTarget<T>>& targets,
                   std::map<std::string, std::vector<Update>>& weights, std::map<std::string, std::vector<Update>>& biases) {
    check(a.file != nullptr, "lora", "adapter without a file");
    const LoraFile& f = *a.file;
    check(std::isfinite(a.scale), f.name, "scale ", a.scale, " is not a finite number");
    for (const LoraLayer& l : f.layers) {
      const std::string wkey = l.module + ".weight";
      const auto w = targets.find(wkey);
      check(w != targets.end(), f.name, "module '", l.module, "' (key '", l.key,
            "') matches no layer of this transformer (a LoRA for another model, or more blocks than it has?)");
      check(detail::lora_fits(l, w->second.shape), f.name, "module '", l.module, "': lora_A ",
            detail::dims_string(l.down_shape), " and lora_B ", detail::dims_string(l.up_shape), " do not fit ", wkey, " ",
            detail::dims_string(w->second.shape), " (a LoRA for another model size?)");
      const float coef = static_cast<float>(a.scale * l.scaling());
      weights[wkey].push_back({&l, coef});
      if (l.up_bias.empty()) continue;
      const std::string bkey = l.module + ".bias";
      check(targets.count(bkey) != 0, f.name, "module '", l.module, "' has a lora_B bias but ", bkey,
            " does not exist in this transformer");
      biases[bkey].push_back({&l, coef});
    }
  }

  void keep_original(context_t<B>& ctx, const std::string& key, const detail::LoraTarget<T>& t) {
    std::vector<T> v(static_cast<std::size_t>(t.numel()));
    backend_traits<B>::download(ctx, v.data(), t.data, v.size() * sizeof(T));
    originals_.emplace(key, std::move(v));
  }

  /// W (out, in) in fp32 on the backend, += coef · up · down per update, cast back to T.
  void merge_weight(context_t<B>& ctx, const std::string& key, const detail::LoraTarget<T>& t,
                    const std::vector<Update>& ups) {
    keep_original(ctx, key, t);
    const std::int64_t out = t.shape[0], in = t.numel() / out;
    using S = space_t<B>;
    Tensor<float, 3, B> w32({1, out, in});  // (1, out, in)
    ops::copy(ctx, TensorView<const T, 3, S>(t.data, {1, out, in}), w32.view());
    for (const Update& u : ups) {
      const std::int64_t r = u.layer->rank;
      auto up = to_backend<B>(ctx, TensorView<const float, 3, host_space>(u.layer->up.data(), {1, out, r}));    // (1, out, r)
      auto down = to_backend<B>(ctx, TensorView<const float, 3, host_space>(u.layer->down.data(), {1, r, in}));  // (1, r, in)
      ops::matmul(ctx, TensorView<const float, 3, S>(up.view()), TensorView<const float, 3, S>(down.view()), w32.view(),
                  u.coef, 1.0f);
    }
    ops::copy(ctx, TensorView<const float, 3, S>(w32.view()), TensorView<T, 3, S>(t.data, {1, out, in}));
  }

  /// b (out) += coef · up_bias per update, in fp32 on the host (a few values).
  void merge_bias(context_t<B>& ctx, const std::string& key, const detail::LoraTarget<T>& t, const std::vector<Update>& ups) {
    keep_original(ctx, key, t);
    const std::vector<T>& old = originals_.at(key);
    std::vector<float> acc(old.size());
    for (std::size_t i = 0; i < old.size(); ++i) acc[i] = to_float(old[i]);
    for (const Update& u : ups) {
      check(u.layer->up_bias.size() == acc.size(), "lora", key, " has ", acc.size(), " values, the LoRA bias ",
            u.layer->up_bias.size());
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += u.coef * u.layer->up_bias[i];
    }
    std::vector<T> merged(acc.size());
    for (std::size_t i = 0; i < acc.size(); ++i) merged[i] = convert<T>(acc[i]);
    backend_traits<B>::upload(ctx, t.data, merged.data(), merged.size() * sizeof(T));
  }

  std::map<std::string, std::vector<T>> originals_;  // parameter key -> its values before merging (host)
  std::vector<LoraAdapter> adapters_;
};

} // namespace dit
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
