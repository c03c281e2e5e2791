// custom_attention: an own self-attention variant on chosen transformer blocks (the role of diffusers' attention
// processors), composed from the library's ops on the pipeline's backend, plus a hook that reads each block's
// output. The variant here mixes Sana's ReLU linear attention with a softmax attention over the same q, k, v:
//   out = (1 − α) · linear_attention(q, k, v) + α · softmax(q kᵀ / √d) v,   on blocks 1 and 2 only.
//   custom_attention [model_dir] [alpha]    writes custom_attention.png (default: the installed toy model)
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "sana/backends/onednn/onednn.hpp"
#include "sana/io/png.hpp"
#include "sana/pipeline/sana_pipeline.hpp"

using B = sana::onednn_backend;
using T = float;
template <std::size_t R> using View = sana::TensorView<T, R, sana::space_t<B>>;
template <std::size_t R> using CView = sana::TensorView<const T, R, sana::space_t<B>>;

/// The processor: q, k, v (B', N, C) of one block in, its attention output (B', N, C) out.
sana::dit::SelfAttentionFn<B, T> mixed_attention(float alpha) {
  return [alpha](const sana::dit::SelfAttentionCall<B, T>& c) {
    auto scope = c.ws.scope();  // scratch released when the call returns
    View<3> soft = c.ws.template allocate<T>(c.q.shape());  // (B', N, C)
    sana::ops::linear_attention(c.ctx, c.q, c.k, c.v, c.out, c.heads);
    sana::dit::softmax_attention<B, T>(c.ctx, c.ws, c.q, c.k, c.v, std::nullopt, soft, c.heads);
    const std::vector<float> w = {1.0f - alpha, alpha};
    const std::vector<CView<3>> in = {CView<3>(c.out), CView<3>(soft)};
    sana::ops::lincomb(c.ctx, w, in, c.out);
  };
}

int main(int argc, char** argv) {
  try {
    sana::context_t<B> ctx;
    auto pipe = sana::pipeline::SanaPipeline<B, T>::load(ctx, argc > 1 ? argv[1] : SANA_TOY_MODEL_DIR);
    const float alpha = argc > 2 ? std::strtof(argv[2], nullptr) : 0.5f;
    auto& transformer = pipe.transformer();
    const std::int64_t blocks[] = {1, 2};
    transformer.set_self_attention(mixed_attention(alpha), blocks);
    // A forward hook: the RMS of each block's output at the last model evaluation.
    std::vector<double> rms(static_cast<std::size_t>(transformer.config().num_layers));
    for (std::size_t i = 0; i < rms.size(); ++i)
      transformer.extensions(i).after_block = [&rms](const sana::dit::BlockOutputCall<B, T>& o) {
        double s = 0;  // host backend: the residual stream is host memory
        for (std::int64_t k = 0; k < o.x.numel(); ++k) s += double(o.x.data()[k]) * o.x.data()[k];
        rms[o.block] = std::sqrt(s / double(o.x.numel()));
      };
    sana::pipeline::GenerateRequest rq;
    rq.prompts = {"a red circle on a blue background"};
    rq.steps = 20;
    rq.seed = 1;
    rq.resolution_binning = false;
    const auto image = pipe.generate(ctx, rq);
    sana::io::write_png("custom_attention.png", image.pixels, image.width, image.height, {{"prompt", rq.prompts[0]}});
    std::printf("custom_attention.png: %lldx%lld, blocks 1-2 mixed with alpha %.2f\n",
                static_cast<long long>(image.width), static_cast<long long>(image.height), alpha);
    for (std::size_t i = 0; i < rms.size(); ++i) std::printf("  block %zu output RMS %.4f\n", i, rms[i]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custom_attention: %s\n", e.what());
    return 1;
  }
  return 0;
}
