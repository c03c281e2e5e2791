/// @file
/// Guidance: how the model outputs of the batch branches (unconditional, conditional,
/// perturbed-attention) combine into the one velocity a sampler steps with
/// (sana-spec.md §4.5). Written once here; the Sana pipeline and standalone users share it.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <span>

#include "sana/core/config.hpp"
#include "sana/core/error.hpp"
#include "sana/sampling/lincomb.hpp"

namespace sana {
inline namespace SANA_ABI_NAMESPACE {
namespace sampling {

/// Classifier-free guidance and perturbed-attention guidance (PAG) settings.
///
/// Branches are evaluated in diffusers' batch order: [uncond, cond, perturbed], leaving out
/// uncond when CFG is off (guidance_scale ≤ 1) and perturbed when PAG is off (pag_scale ≤ 0).
///   v = v_u + w·(v_c − v_u) + s·(v_c − v_p)
/// with s = pag_scale, or with adaptive scaling s(t) = max(0, pag_scale − adaptive·(1000 − t)).
struct Guidance {
  static constexpr const char* name = "guidance";

  double guidance_scale = 4.5;      ///< w; CFG runs when w > 1
  double pag_scale = 0.0;           ///< PAG runs when > 0 (diffusers' PAG pipeline default 3.0)
  double pag_adaptive_scale = 0.0;  ///< adaptive PAG when > 0

  bool do_cfg() const { return guidance_scale > 1.0; }
  bool do_pag() const { return pag_scale > 0.0; }
  /// Number of model-batch branches (1, 2 or 3).
  int num_branches() const { return 1 + (do_cfg() ? 1 : 0) + (do_pag() ? 1 : 0); }

  /// PAG scale at model timestep t (diffusers `_get_pag_scale`, float32 like torch on an
  /// integer timestep tensor).
  double pag_scale_at(double timestep) const {
    if (!(pag_adaptive_scale > 0.0 && do_pag())) return pag_scale;
    const float s = static_cast<float>(pag_scale) -
                    static_cast<float>(pag_adaptive_scale) * static_cast<float>(1000.0 - timestep);
    return std::max(0.0f, s);
  }

  /// One coefficient per branch, in branch order, for step timestep t.
  std::array<double, 3> coefficients(double timestep) const {
    check(std::isfinite(guidance_scale) && std::isfinite(pag_scale) &&
              std::isfinite(pag_adaptive_scale) && pag_adaptive_scale >= 0.0,
          name, "scales must be finite and pag_adaptive_scale >= 0");
    const double w = guidance_scale;
    const double s = do_pag() ? pag_scale_at(timestep) : 0.0;
    if (do_cfg() && do_pag()) return {1.0 - w, w + s, -s};
    if (do_cfg()) return {1.0 - w, w, 0.0};
    if (do_pag()) return {1.0 + s, -s, 0.0};
    return {1.0, 0.0, 0.0};
  }

  /// out = guided velocity from the branch outputs (`num_branches()` buffers, batch order).
  /// `out` may be one of the branches.
  template <class Buffer, class LincombFn>
  void combine(const Buffer& out, std::span<const Buffer> branches, double timestep,
               LincombFn&& lincomb) const {
    const int n = num_branches();
    check(branches.size() == static_cast<std::size_t>(n), name, "expected ", n,
          " branch outputs, got ", branches.size());
    const std::array<double, 3> c = coefficients(timestep);
    lincomb(out, std::span<const double>(c.data(), static_cast<std::size_t>(n)), branches);
  }
};

/// Classifier-free guidance alone: out = v_u + w·(v_c − v_u).
template <class Buffer, class LincombFn>
void classifier_free_guidance(const Buffer& out, const Buffer& uncond, const Buffer& cond,
                              double guidance_scale, LincombFn&& lincomb) {
  combine(lincomb, out, std::array<double, 2>{1.0 - guidance_scale, guidance_scale},
                  std::array<Buffer, 2>{uncond, cond});
}

} // namespace sampling
} // namespace SANA_ABI_NAMESPACE
} // namespace sana
