// text_to_image: the library API end to end — load a diffusers Sana folder, generate, save a PNG.
//   text_to_image <model_dir> "<prompt>" out.png [seed]
#include <cstdio>
#include <cstdlib>

#include "sana/io/png.hpp"
#include "sana/pipeline/sana_pipeline.hpp"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: text_to_image <model_dir> <prompt> <out.png> [seed]\n");
    return 2;
  }
  using B = sana::reference_backend;  // any compiled backend: sana::onednn_backend, sana::cuda_backend
  try {
    sana::context_t<B> ctx;
    auto pipe = sana::pipeline::SanaPipeline<B, float>::load(ctx, argv[1]);
    sana::pipeline::GenerateRequest rq;
    rq.prompts = {argv[2]};
    rq.steps = 4;
    rq.guidance_scale = 4.5;
    rq.seed = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
    const auto image = pipe.generate(ctx, rq, {[](int step, int steps) {
                                       std::printf("step %d/%d\n", step + 1, steps);
                                       return true;  // false stops early
                                     }});
    sana::io::write_png(argv[3], image.pixels, image.width, image.height, {{"prompt", argv[2]}});
    std::printf("%s: %lldx%lld\n", argv[3], static_cast<long long>(image.width), static_cast<long long>(image.height));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "text_to_image: %s\n", e.what());
    return 1;
  }
  return 0;
}
