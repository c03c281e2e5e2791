/// @file
/// `text::Gemma2Encoder<B, T>`: the decoder stack of Gemma-2 (transformers' `Gemma2Model`) run once over
/// a padded token batch, returning `last_hidden_state` (the final norm's output). Eager-attention
/// semantics: logit soft-capping, causal + key-padding mask, sliding window on the sliding layers.
/// Parameters carry the checkpoint's key names (`layers.3.self_attn.q_proj.weight`); a `model.`
/// prefix (a saved `Gemma2ForCausalLM`) is accepted and `lm_head.weight` ignored.
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sana/core/machine_memory.hpp"
#include "sana/core/tensor.hpp"
#include "sana/core/workspace.hpp"
#include "sana/io/model_folder.hpp"
#include "sana/ops.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace text {

/// The fields of a Gemma-2 `config.json` the encoder needs.
struct Gemma2Config {
  std::int64_t vocab_size = 256000;
  std::int64_t hidden_size = 2304;
  std::int64_t intermediate_size = 9216;
  std::int64_t num_hidden_layers = 26;
  std::int64_t num_attention_heads = 8;
  std::int64_t num_key_value_heads = 4;
  std::int64_t head_dim = 256;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double query_pre_attn_scalar = 256.0;
  double attn_logit_softcapping = 50.0;  ///< 0: none (config null)
  std::int64_t sliding_window = 4096;
  std::vector<bool> sliding_layers;      ///< per layer: true for "sliding_attention"

  /// Gemma-2-2B's values (Sana's text encoder).
  static Gemma2Config gemma2_2b() {
    Gemma2Config c;
    c.fill_default_layer_types();
    return c;
  }

  /// transformers' default: even layers slide, odd layers are global.
  void fill_default_layer_types() {
    sliding_layers.assign(static_cast<std::size_t>(num_hidden_layers), false);
    for (std::int64_t i = 0; i < num_hidden_layers; ++i) sliding_layers[i] = (i + 1) % 2 != 0;
  }

  /// Parses a transformers Gemma2Config (4.x with `rope_theta`, or 5.x with `rope_parameters`).
  static Gemma2Config from_json(const io::JsonConfig& j) {
    Gemma2Config c;
    const auto where = j.name();
    // transformers' Gemma2Config arguments. Inert for the encoder's last hidden state: dropout, cache and token-id
    // settings, initialisation, dtype, tied embeddings and the final logit soft-cap (applied to logits only).
    j.expect_known_keys({"architectures", "model_type", "vocab_size", "hidden_size", "intermediate_size",
                         "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_activation",
                         "hidden_act", "max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_parameters",
                         "rope_scaling", "attention_bias", "attention_dropout", "query_pre_attn_scalar", "sliding_window",
                         "layer_types", "attn_logit_softcapping", "final_logit_softcapping", "use_bidirectional_attention",
                         "initializer_range", "use_cache", "cache_implementation", "pad_token_id", "eos_token_id",
                         "bos_token_id", "tie_word_embeddings", "torch_dtype", "dtype", "transformers_version"},
                        "Gemma2Config");
    check(!j.get_or<bool>("attention_bias", false), where, "attention_bias true (biased q/k/v/o projections) is not implemented");
    check(!j.get_or<bool>("use_bidirectional_attention", false), where,
          "use_bidirectional_attention true (no causal mask) is not implemented");
    check(!j.contains("rope_scaling") || j.json()["rope_scaling"].is_null(), where, "rope_scaling is not implemented");
    const auto legacy_act = j.get_or<std::string>("hidden_act", "gelu_pytorch_tanh");
    check(legacy_act == "gelu_pytorch_tanh", where, "hidden_act '", legacy_act, "' is not supported (only 'gelu_pytorch_tanh')");
    if (const auto arch = j.get_optional<std::vector<std::string>>("architectures"))
      for (const auto& a : *arch)
        check(a == "Gemma2Model" || a == "Gemma2ForCausalLM", where, "architectures names '", a,
              "', not Gemma2Model or Gemma2ForCausalLM");
    if (j.contains("model_type")) {
      const auto type = j.get<std::string>("model_type");
      check(type == "gemma2", where, "model_type is '", type, "', expected 'gemma2'");
    }
    c.vocab_size = j.get<std::int64_t>("vocab_size");
    c.hidden_size = j.get<std::int64_t>("hidden_size");
    c.intermediate_size = j.get<std::int64_t>("intermediate_size");
    c.num_hidden_layers = j.get<std::int64_t>("num_hidden_layers");
    c.num_attention_heads = j.get<std::int64_t>("num_attention_heads");
    c.num_key_value_heads = j.get_or<std::int64_t>("num_key_value_heads", c.num_attention_heads);
    check(c.num_attention_heads > 0, where, "num_attention_heads must be positive, got ", c.num_attention_heads);
    c.head_dim = j.get_or<std::int64_t>("head_dim", c.hidden_size / c.num_attention_heads);
    c.rms_norm_eps = j.get_or<double>("rms_norm_eps", 1e-6);
    if (j.contains("rope_parameters") && !j.json()["rope_parameters"].is_null()) {
      const auto rp = j.object("rope_parameters");
      const auto type = rp.get_or<std::string>("rope_type", "default");
      check(type == "default", where, "rope_type '", type, "' is not supported (only 'default')");
      c.rope_theta = rp.get_or<double>("rope_theta", 10000.0);
      const auto legacy = j.get_optional<double>("rope_theta");
      check(!legacy || *legacy == c.rope_theta, where, "rope_theta ", legacy.value_or(0),
            " differs from rope_parameters.rope_theta ", c.rope_theta, " (give one)");
    } else {
      c.rope_theta = j.get_or<double>("rope_theta", 10000.0);
    }
    c.query_pre_attn_scalar = j.get_or<double>("query_pre_attn_scalar", static_cast<double>(c.head_dim));
    c.attn_logit_softcapping = j.get_or<double>("attn_logit_softcapping", 0.0);
    // transformers' Gemma2Config: absent → 4096, null → no window.
    c.sliding_window = j.contains("sliding_window") ? j.get_or<std::int64_t>("sliding_window", 0) : 4096;
    check(!j.contains("sliding_window") || j.json()["sliding_window"].is_null() || c.sliding_window > 0, where,
          "sliding_window must be positive (or null for no window), got ", c.sliding_window);
    check(std::isfinite(c.rope_theta) && c.rope_theta > 0, where, "rope_theta must be a positive number, got ", c.rope_theta);
    check(std::isfinite(c.query_pre_attn_scalar) && c.query_pre_attn_scalar > 0, where,
          "query_pre_attn_scalar must be a positive number, got ", c.query_pre_attn_scalar);
    check(std::isfinite(c.attn_logit_softcapping) && c.attn_logit_softcapping >= 0, where,
          "attn_logit_softcapping must be >= 0 (0: off), got ", c.attn_logit_softcapping);
    check(std::isfinite(c.rms_norm_eps) && c.rms_norm_eps > 0, where, "rms_norm_eps must be a positive number, got ",
          c.rms_norm_eps);
    const auto act = j.get_or<std::string>("hidden_activation", "gelu_pytorch_tanh");
    check(act == "gelu_pytorch_tanh", where, "hidden_activation '", act, "' is not supported (only 'gelu_pytorch_tanh')");
    check(c.hidden_size > 0 && c.num_hidden_layers > 0 && c.num_attention_heads > 0 && c.num_key_value_heads > 0 &&
              c.head_dim > 0 && c.head_dim % 2 == 0 && c.intermediate_size > 0 && c.vocab_size > 0,
          where, "sizes must be positive and head_dim even");
    check(c.num_attention_heads % c.num_key_value_heads == 0, where, "num_attention_heads ", c.num_attention_heads,
          " is not a multiple of num_key_value_heads ", c.num_key_value_heads);
    for (auto [v, key] : {std::pair{c.hidden_size, "hidden_size"}, {c.intermediate_size, "intermediate_size"},
                          {c.num_attention_heads, "num_attention_heads"}, {c.num_key_value_heads, "num_key_value_heads"},
                          {c.head_dim, "head_dim"}})
      check_config_size(where, key, v);
    check_config_size(where, "vocab_size", c.vocab_size, 64 * max_config_dimension);
    check_config_size(where, "num_hidden_layers", c.num_hidden_layers, max_config_layers);
    require_weights_fit(static_cast<double>(c.parameter_count()), where, "the text encoder this config describes");
    if (j.contains("layer_types") && !j.json()["layer_types"].is_null()) {
      const auto types = j.get<std::vector<std::string>>("layer_types");
      check(static_cast<std::int64_t>(types.size()) == c.num_hidden_layers, where, "layer_types has ", types.size(),
            " entries for ", c.num_hidden_layers, " layers");
      for (const auto& t : types) {
        check(t == "sliding_attention" || t == "full_attention", where, "unknown layer type '", t, "'");
        c.sliding_layers.push_back(t == "sliding_attention");
      }
    } else {
      c.fill_default_layer_types();
    }
    return c;
  }

  /// Parameters of the decoder stack (embedding included).
  std::int64_t parameter_count() const {
    const std::int64_t c = hidden_size, q = num_attention_heads * head_dim, kv = num_key_value_heads * head_dim;
    const std::int64_t layer = 4 * c + q * c + 2 * kv * c + c * q + 3 * c * intermediate_size;
    return vocab_size * c + num_hidden_layers * layer + c;
  }
};

/// One Gemma-2 decoder layer's weights (diffusers/transformers key names under `layers.{i}.`).
template <class B, class T>
struct Gemma2Layer {
  Tensor<T, 1, B> input_layernorm, post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm;
  Tensor<T, 2, B> q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj;

  explicit Gemma2Layer(const Gemma2Config& c)
      : input_layernorm({c.hidden_size}), post_attention_layernorm({c.hidden_size}),
        pre_feedforward_layernorm({c.hidden_size}), post_feedforward_layernorm({c.hidden_size}),
        q_proj({c.num_attention_heads * c.head_dim, c.hidden_size}),
        k_proj({c.num_key_value_heads * c.head_dim, c.hidden_size}),
        v_proj({c.num_key_value_heads * c.head_dim, c.hidden_size}),
        o_proj({c.hidden_size, c.num_attention_heads * c.head_dim}), gate_proj({c.intermediate_size, c.hidden_size}),
        up_proj({c.intermediate_size, c.hidden_size}), down_proj({c.hidden_size, c.intermediate_size}) {}

  template <class F>
  void visit_parameters(const std::string& prefix, F&& f) {
    f(prefix + "input_layernorm.weight", input_layernorm);
    f(prefix + "post_attention_layernorm.weight", post_attention_layernorm);
    f(prefix + "pre_feedforward_layernorm.weight", pre_feedforward_layernorm);
    f(prefix + "post_feedforward_layernorm.weight", post_feedforward_layernorm);
    f(prefix + "self_attn.q_proj.weight", q_proj);
    f(prefix + "self_attn.k_proj.weight", k_proj);
    f(prefix + "self_attn.v_proj.weight", v_proj);
    f(prefix + "self_attn.o_proj.weight", o_proj);
    f(prefix + "mlp.gate_proj.weight", gate_proj);
    f(prefix + "mlp.up_proj.weight", up_proj);
    f(prefix + "mlp.down_proj.weight", down_proj);
  }
};

/// Gemma-2 decoder stack as a prompt encoder.
template <class B, class T>
class Gemma2Encoder {
public:
  using space = space_t<B>;
  using Ctx = context_t<B>;

  explicit Gemma2Encoder(Gemma2Config config)
      : config_(std::move(config)), embed_tokens_({config_.vocab_size, config_.hidden_size}), norm_({config_.hidden_size}) {
    if (config_.sliding_layers.empty()) config_.fill_default_layer_types();
    layers_.reserve(static_cast<std::size_t>(config_.num_hidden_layers));
    for (std::int64_t i = 0; i < config_.num_hidden_layers; ++i) layers_.emplace_back(config_);
  }

  /// Reads `config.json` and the weights of a `text_encoder/` folder (converting to T). On a host backend the
  /// token-embedding table stays in the file's mapping (see `load_weights`).
  static Gemma2Encoder load(Ctx& ctx, const std::filesystem::path& dir) {
    auto folder = std::make_shared<io::ModelFolder>(io::ModelFolder::open(dir));
    Gemma2Encoder enc(Gemma2Config::from_json(folder->config()));
    enc.load_weights(ctx, *folder, folder);
    return enc;
  }

  /// Loads every parameter from `folder` (keys with or without a `model.` prefix) and rejects unexpected tensors.
  /// Given `keep` (the same folder, shared) on a host backend, `embed_tokens.weight` is not copied: lookups read
  /// and convert only the rows they need from the mapping, so the (V, C) table (2.4 GB in fp32 for Gemma-2-2B)
  /// never becomes resident. `visit_parameters` then skips it.
  void load_weights(Ctx& ctx, io::ModelFolder& folder, std::shared_ptr<const io::ModelFolder> keep = nullptr) {
    const std::string prefix = folder.contains("model.embed_tokens.weight") ? "model." : "";
    if constexpr (is_host_backend_v<B>) {
      if (keep) {
        const auto& e = folder.checked_entry(prefix + "embed_tokens.weight", embed_tokens_.shape());
        const bool float_storage =
            e.dtype == io::StoredDType::F32 || e.dtype == io::StoredDType::F16 || e.dtype == io::StoredDType::BF16;
        check(float_storage, folder.file_of(prefix + "embed_tokens.weight").name(),
              "tensor 'embed_tokens.weight' is stored as ", io::stored_dtype_name(e.dtype), " (supported: F32, F16, BF16)");
        mapped_embedding_ = MappedEmbedding{std::move(keep), &e};
        embed_tokens_ = Tensor<T, 2, B>();
      }
    }
    visit_parameters([&](const std::string& name, auto& tensor) {
      const std::string key = prefix + name;
      if constexpr (is_host_backend_v<B>) {
        folder.load(key, tensor.view());
      } else {
        auto host = folder.load<T>(key, tensor.shape());
        backend_traits<B>::upload(ctx, tensor.data(), host.data(), host.bytes());
      }
    });
    if (folder.contains("lm_head.weight")) folder.mark_used("lm_head.weight");  // tied LM head, unused here
    folder.expect_all_used();
    (void)ctx;
  }

  template <class F>
  void visit_parameters(F&& f) {
    if (!mapped_embedding_.entry) f(std::string("embed_tokens.weight"), embed_tokens_);
    for (std::size_t i = 0; i < layers_.size(); ++i) layers_[i].visit_parameters("layers." + std::to_string(i) + ".", f);
    f(std::string("norm.weight"), norm_);
  }

  const Gemma2Config& config() const { return config_; }

  /// Bytes of workspace `forward` takes for `bt` rows of `len` tokens (the (Bt, Hq, L, L) scores dominate long inputs).
  double forward_bytes(std::int64_t bt, std::int64_t len) const {
    const auto& c = config_;
    const double rows = static_cast<double>(bt) * static_cast<double>(len);
    const double per_row = 3.0 * static_cast<double>(c.hidden_size) +
                           2.0 * static_cast<double>(c.num_attention_heads * c.head_dim) +
                           2.0 * static_cast<double>(c.num_key_value_heads * c.head_dim) +
                           2.0 * static_cast<double>(c.intermediate_size);
    const double scores = rows * static_cast<double>(c.num_attention_heads) * static_cast<double>(len);
    return (rows * per_row + scores) * static_cast<double>(sizeof(T));
  }

  /// out (Bt, L, C) = last_hidden_state for ids (Bt, L) with attention mask (Bt, L) (1 = token, 0 = padding).
  /// Padded positions are computed too (they attend to the real tokens before them), as in transformers.
  void forward(Ctx& ctx, Workspace<B>& ws, TensorView<const std::int64_t, 2, space> ids,
               TensorView<const std::int64_t, 2, space> mask, TensorView<T, 3, space> out) {
    const auto& c = config_;
    const std::int64_t bt = ids.size(0), len = ids.size(1), dim = c.hidden_size;
    const std::int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, hd = c.head_dim;
    const std::int64_t group = hq / hkv, rows = bt * len;
    check(mask.shape() == ids.shape(), "gemma2", "mask ", shape_string(mask.shape()), " does not match ids ",
          shape_string(ids.shape()));
    check(out.size(0) == bt && out.size(1) == len && out.size(2) == dim && out.is_contiguous(), "gemma2", "output ",
          shape_string(out.shape()), " is not contiguous (", bt, ", ", len, ", ", dim, ")");
    const float eps = static_cast<float>(c.rms_norm_eps);
    const float scale = static_cast<float>(std::pow(c.query_pre_attn_scalar, -0.5));
    if constexpr (is_host_backend_v<B>)
      require_memory(forward_bytes(bt, len), "gemma2",
                     "encoding " + std::to_string(bt) + " prompt(s) of " + std::to_string(len) + " tokens",
                     " (fewer prompts per call or a smaller max_sequence_length)");
    auto scope = ws.scope();

    auto h = ws.template allocate<T>(Shape<2>{rows, dim});                  // (Bt·L, C) residual stream
    auto xn = ws.template allocate<T>(Shape<2>{rows, dim});                 // (Bt·L, C) normed input
    auto q = ws.template allocate<T>(Shape<4>{bt, len, hq, hd});            // (Bt, L, Hq, D)
    auto k = ws.template allocate<T>(Shape<4>{bt, len, hkv, hd});           // (Bt, L, Hkv, D)
    auto v = ws.template allocate<T>(Shape<4>{bt, len, hkv, hd});           // (Bt, L, Hkv, D)
    auto scores = ws.template allocate<T>(Shape<4>{bt, hq, len, len});      // (Bt, Hq, L, L)
    auto attn = ws.template allocate<T>(Shape<4>{bt, len, hq, hd});         // (Bt, L, Hq, D)
    auto o = ws.template allocate<T>(Shape<2>{rows, dim});                  // (Bt·L, C)
    auto gate = ws.template allocate<T>(Shape<2>{rows, c.intermediate_size});  // (Bt·L, F)
    auto up = ws.template allocate<T>(Shape<2>{rows, c.intermediate_size});    // (Bt·L, F)

    embed(ctx, ws, ids.reshape(Shape<1>{rows}), h);  // (Bt·L, C)

    const auto q2 = q.reshape(Shape<2>{rows, hq * hd});     // (Bt·L, Hq·D)
    const auto k2 = k.reshape(Shape<2>{rows, hkv * hd});    // (Bt·L, Hkv·D)
    const auto v2 = v.reshape(Shape<2>{rows, hkv * hd});    // (Bt·L, Hkv·D)
    const auto attn2 = attn.reshape(Shape<2>{rows, hq * hd});  // (Bt·L, Hq·D)
    for (std::size_t li = 0; li < layers_.size(); ++li) {
      auto& L = layers_[li];
      ops::gemma_rms_norm<Ctx, T, 2>(ctx, h, L.input_layernorm.view(), xn, eps);  // (Bt·L, C)
      ops::linear<Ctx, T, 2>(ctx, xn, L.q_proj.view(), q2);                       // (Bt·L, Hq·D)
      ops::linear<Ctx, T, 2>(ctx, xn, L.k_proj.view(), k2);                       // (Bt·L, Hkv·D)
      ops::linear<Ctx, T, 2>(ctx, xn, L.v_proj.view(), v2);                       // (Bt·L, Hkv·D)
      ops::rotary_embedding<Ctx, T>(ctx, q, static_cast<float>(c.rope_theta));    // (Bt, L, Hq, D)
      ops::rotary_embedding<Ctx, T>(ctx, k, static_cast<float>(c.rope_theta));    // (Bt, L, Hkv, D)
      for (std::int64_t b = 0; b < bt; ++b) {
        for (std::int64_t j = 0; j < hkv; ++j) {
          // The `group` query heads of KV head j: one batched GEMM with K broadcast (batch stride 0).
          const TensorView<const T, 3, space> qg(q.data() + b * q.stride(0) + j * group * hd, {group, len, hd},
                                                 {hd, hq * hd, 1});                          // (G, L, D)
          const TensorView<const T, 3, space> kt(k.data() + b * k.stride(0) + j * hd, {group, hd, len},
                                                 {0, 1, hkv * hd});                          // (G, D, L)
          const TensorView<T, 3, space> sg(scores.data() + (b * hq + j * group) * len * len,
                                           {group, len, len});                               // (G, L, L)
          ops::matmul<Ctx, T>(ctx, qg, kt, sg, scale);
        }
      }
      const bool sliding = c.sliding_layers[li] && c.sliding_window > 0;
      const ops::AttentionMasking masking{static_cast<float>(c.attn_logit_softcapping), true,
                                          sliding ? c.sliding_window : 0};
      ops::attention_softmax<Ctx, T>(ctx, scores, mask, masking);                                // (Bt, Hq, L, L)
      for (std::int64_t b = 0; b < bt; ++b) {
        for (std::int64_t j = 0; j < hkv; ++j) {
          const TensorView<const T, 3, space> pg(scores.data() + (b * hq + j * group) * len * len,
                                                 {group, len, len});                         // (G, L, L)
          const TensorView<const T, 3, space> vg(v.data() + b * v.stride(0) + j * hd, {group, len, hd},
                                                 {0, hkv * hd, 1});                          // (G, L, D)
          const TensorView<T, 3, space> og(attn.data() + b * attn.stride(0) + j * group * hd, {group, len, hd},
                                           {hd, hq * hd, 1});                                // (G, L, D)
          ops::matmul<Ctx, T>(ctx, pg, vg, og);
        }
      }
      ops::linear<Ctx, T, 2>(ctx, attn2, L.o_proj.view(), o);                                   // (Bt·L, C)
      ops::gemma_rms_norm<Ctx, T, 2>(ctx, o, L.post_attention_layernorm.view(), o, eps);        // (Bt·L, C)
      ops::add<Ctx, T, 2>(ctx, h, o, h);                                                        // (Bt·L, C)
      ops::gemma_rms_norm<Ctx, T, 2>(ctx, h, L.pre_feedforward_layernorm.view(), xn, eps);      // (Bt·L, C)
      if constexpr (std::is_same_v<T, float>) {
        ops::linear<Ctx, T, 2>(ctx, xn, L.gate_proj.view(), gate, Activation::GELUTanh);        // (Bt·L, F)
      } else {  // PyTorch rounds gate(x) to T before the GELU; so do we in 16-bit types
        ops::linear<Ctx, T, 2>(ctx, xn, L.gate_proj.view(), gate);                              // (Bt·L, F)
        ops::activation<Ctx, T, 2>(ctx, gate, gate, Activation::GELUTanh);                      // (Bt·L, F)
      }
      ops::linear<Ctx, T, 2>(ctx, xn, L.up_proj.view(), up);                                    // (Bt·L, F)
      ops::mul<Ctx, T, 2>(ctx, gate, up, gate);                                                 // (Bt·L, F)
      ops::linear<Ctx, T, 2>(ctx, gate, L.down_proj.view(), o);                                 // (Bt·L, C)
      ops::gemma_rms_norm<Ctx, T, 2>(ctx, o, L.post_feedforward_layernorm.view(), o, eps);      // (Bt·L, C)
      ops::add<Ctx, T, 2>(ctx, h, o, h);                                                        // (Bt·L, C)
    }
    ops::gemma_rms_norm<Ctx, T, 2>(ctx, h, norm_.view(), out.reshape(Shape<2>{rows, dim}), eps);  // (Bt·L, C)
  }

private:
  /// The embedding table left in the checkpoint's mapping (host backends, `load`).
  struct MappedEmbedding {
    std::shared_ptr<const io::ModelFolder> file;  ///< keeps the mapping alive
    const io::TensorEntry* entry = nullptr;       ///< (V, C), F32 / F16 / BF16
  };

  /// h (N, C) = embed_tokens[ids] · sqrt(C) rounded to T, as transformers' Gemma2Model computes it.
  void embed(Ctx& ctx, Workspace<B>& ws, TensorView<const std::int64_t, 1, space> ids, TensorView<T, 2, space> h) {
    const std::int64_t dim = config_.hidden_size, n = ids.size(0);
    const float scale = to_float(convert<T>(static_cast<float>(std::sqrt(static_cast<double>(dim)))));
    if (!mapped_embedding_.entry) return ops::embedding_lookup<Ctx, T>(ctx, ids, embed_tokens_.view(), h, scale);
    if constexpr (is_host_backend_v<B>) {
      // Gather the rows (converted to T exactly as a full load would), then scale them with the same op.
      const io::TensorEntry& e = *mapped_embedding_.entry;
      const std::size_t width = io::stored_dtype_bits(e.dtype) / 8 * static_cast<std::size_t>(dim);
      auto scope = ws.scope();
      auto rows = ws.template allocate<T>(Shape<2>{n, dim});  // (N, C) unscaled rows
      auto row_ids = ws.template allocate<std::int64_t>(Shape<1>{n});  // (N) 0..N−1
      for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t id = ids.data()[i];
        check(id >= 0 && id < config_.vocab_size, "embedding_lookup", "token id ", id, " at position ", i,
              " is outside the vocabulary [0, ", config_.vocab_size, ")");
        const std::byte* src = e.bytes.data() + static_cast<std::size_t>(id) * width;
        io::convert_float_elements(e.dtype, src, rows.data() + i * dim, static_cast<std::size_t>(dim));  // checked at load
        row_ids.data()[i] = i;
      }
      ops::embedding_lookup<Ctx, T>(ctx, row_ids, rows, h, scale);  // (N, C)
    }
  }

  Gemma2Config config_;
  Tensor<T, 2, B> embed_tokens_;
  MappedEmbedding mapped_embedding_;
  std::vector<Gemma2Layer<B, T>> layers_;
  Tensor<T, 1, B> norm_;
};

} // namespace text
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
