#!/usr/bin/env python3
"""Writes the sampling parity fixtures under tests/data/sampling/ from the diffusers schedulers.

    $SANA_REF_VENV/bin/python tools/reference/sampling_fixtures.py [--out tests/data/sampling]

Files:
  schedules.json     timesteps and float32 sigmas of every scheduler for a grid of step counts
                     and shifts (the C++ tests require the timesteps to match exactly).
  trajectories.json  whole sampling trajectories: random initial latents, a random but fixed
                     "model output" per step (and per-step noise for SCM), and the latents after
                     every step as diffusers computes them in float32.
  guidance.json      CFG / PAG combinations computed by diffusers' PAG mixin.

Floats are written with 9 significant digits, which round-trips float32 exactly (checked below).
"""

import argparse
import json
import math
import pathlib

import numpy as np
import torch
import diffusers
from diffusers import (DPMSolverMultistepScheduler, FlowMatchEulerDiscreteScheduler, FlowMatchHeunDiscreteScheduler,
                       SCMScheduler, UniPCMultistepScheduler)
from diffusers.pipelines.pag.pag_utils import PAGMixin

STEPS = [1, 2, 3, 5, 10, 20, 28, 50, 100]
SHIFTS = [1.0, 3.0, 4.0, 6.0]
LATENT_SHAPE = (2, 2, 4, 4)  # 64 elements keeps the fixtures small


def f32_list(values):
    """float32 values as Python floats with 9 significant digits (exact float32 round trip)."""
    arr = np.asarray(values, dtype=np.float32).reshape(-1)
    out = [float(f"{float(v):.9g}") for v in arr]
    back = np.asarray(out, dtype=np.float64).astype(np.float32)
    assert np.array_equal(back.view(np.uint32), arr.view(np.uint32)), "float32 round trip failed"
    return out


def dpm_scheduler(shift, order=2, final_sigmas_type="zero", euler_at_final=False, lower_order_final=True,
                  solver_type="midpoint"):
    """DPMSolverMultistepScheduler configured as Sana's hub scheduler_config.json (spec §4.1)."""
    return DPMSolverMultistepScheduler(
        num_train_timesteps=1000,
        algorithm_type="dpmsolver++",
        solver_order=order,
        solver_type=solver_type,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=shift,
        final_sigmas_type=final_sigmas_type,
        lower_order_final=lower_order_final,
        euler_at_final=euler_at_final,
        timestep_spacing="linspace",
        thresholding=False,
        use_karras_sigmas=False,
        use_dynamic_shifting=False,
    )


def unipc_scheduler(shift, order=2, solver_type="bh2", disable_corrector=(), lower_order_final=True):
    """UniPCMultistepScheduler in flow mode (flow sigmas, flow prediction), as for Sana / Wan."""
    return UniPCMultistepScheduler(num_train_timesteps=1000, solver_order=order, prediction_type="flow_prediction",
                                   use_flow_sigmas=True, flow_shift=shift, solver_type=solver_type,
                                   disable_corrector=list(disable_corrector), lower_order_final=lower_order_final,
                                   predict_x0=True, final_sigmas_type="zero", timestep_spacing="linspace")


def nvlabs_grid(steps, shift):
    """NVlabs DPMS 'time_uniform_flow' grid (sana-spec.md §4.2): float32 torch arithmetic."""
    betas = torch.linspace(1.0, 1.0 / 1000, steps + 1, dtype=torch.float32)
    s = 1.0 - betas
    s = (shift * s / (1 + (shift - 1) * s)).flip(dims=[0])
    return s, s[:-1] * 1000


def schedules():
    out = {"dpm": [], "dpm_sigma_min": [], "euler": [], "scm": [], "nvlabs": [], "heun": [], "unipc": []}
    for shift in SHIFTS:
        for n in STEPS:
            s = dpm_scheduler(shift)
            s.set_timesteps(n)
            out["dpm"].append({"steps": n, "shift": shift, "timesteps": [int(t) for t in s.timesteps],
                               "sigmas": f32_list(s.sigmas.numpy())})
            e = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
            e.set_timesteps(n)
            out["euler"].append({"steps": n, "shift": shift, "timesteps": f32_list(e.timesteps.numpy()),
                                 "sigmas": f32_list(e.sigmas.numpy())})
            hs = FlowMatchHeunDiscreteScheduler(num_train_timesteps=1000, shift=shift)
            hs.set_timesteps(n)
            out["heun"].append({"steps": n, "shift": shift, "timesteps": f32_list(hs.timesteps.numpy()),
                                "sigmas": f32_list(hs.sigmas.numpy())})
            us = unipc_scheduler(shift)
            us.set_timesteps(n)
            out["unipc"].append({"steps": n, "shift": shift, "timesteps": [int(t) for t in us.timesteps],
                                 "sigmas": f32_list(us.sigmas.numpy())})
            sig, ts = nvlabs_grid(n, shift)
            out["nvlabs"].append({"steps": n, "shift": shift, "timesteps": f32_list(ts.numpy()),
                                  "sigmas": f32_list(sig.numpy())})
    for n in [5, 20]:
        s = dpm_scheduler(3.0, final_sigmas_type="sigma_min")
        s.set_timesteps(n)
        out["dpm_sigma_min"].append({"steps": n, "shift": 3.0, "timesteps": [int(t) for t in s.timesteps],
                                     "sigmas": f32_list(s.sigmas.numpy())})
    for n in [1, 2, 3, 4, 5, 8, 10]:
        c = SCMScheduler(num_train_timesteps=1000, prediction_type="trigflow", sigma_data=0.5)
        c.set_timesteps(n, intermediate_timesteps=1.3 if n == 2 else None)
        angles = c.timesteps
        tau = torch.sin(angles[:-1]) / (torch.cos(angles[:-1]) + torch.sin(angles[:-1]))
        out["scm"].append({"steps": n, "angles": f32_list(angles.numpy()), "tau": f32_list(tau.numpy())})
    return out


def run_per_evaluation(s, case, rng):
    """One random model output per scheduler.step call (per model evaluation), the latents after each
    (None where diffusers computes NaN, with the finite limit in expected_limit)."""
    x = torch.from_numpy(rng.standard_normal(LATENT_SHAPE).astype(np.float32))
    case["latents"] = f32_list(x.numpy())
    case["model_outputs"], case["expected"] = [], []
    for t in s.timesteps:
        v = torch.from_numpy(rng.standard_normal(LATENT_SHAPE).astype(np.float32))
        x_next = s.step(v, t, x, return_dict=False)[0]
        case["model_outputs"].append(f32_list(v.numpy()))
        if torch.isfinite(x_next).all():
            case["expected"].append(f32_list(x_next.numpy()))
        else:  # UniPC bh1 ends at sigma 0 with alpha_t * B(h) * 0 = -inf * 0 = NaN; the limit is the data prediction
            case["expected"].append(None)
            case["expected_limit"] = f32_list((x - s.sigmas[s.step_index - 1] * v).numpy())
        x = x_next
    return case


def run_dpm(case, rng):
    s = dpm_scheduler(case["shift"], order=case["order"], final_sigmas_type=case.get("final", "zero"),
                      euler_at_final=case.get("euler_at_final", False), solver_type=case.get("solver_type", "midpoint"))
    s.set_timesteps(case["steps"])
    return run_per_evaluation(s, case, rng)


def run_euler(case, rng):
    s = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=case["shift"])
    s.set_timesteps(case["steps"])
    return run_per_evaluation(s, case, rng)


def run_heun(case, rng):
    s = FlowMatchHeunDiscreteScheduler(num_train_timesteps=1000, shift=case["shift"])
    s.set_timesteps(case["steps"])
    return run_per_evaluation(s, case, rng)


def run_unipc(case, rng):
    s = unipc_scheduler(case["shift"], order=case["order"], solver_type=case.get("solver_type", "bh2"),
                        disable_corrector=case.get("disable_corrector", ()))
    s.set_timesteps(case["steps"])
    return run_per_evaluation(s, case, rng)


def run_scm(case, rng):
    """SanaSprintPipeline's denoising loop (pipeline_sana_sprint.py) with a stand-in model."""
    sched = SCMScheduler(num_train_timesteps=1000, prediction_type="trigflow", sigma_data=0.5)
    n = case["steps"]
    if "angles" in case:
        sched.set_timesteps(n, timesteps=case["angles"], max_timesteps=None, intermediate_timesteps=None)
    else:
        sched.set_timesteps(n, intermediate_timesteps=1.3 if n == 2 else None)
    sched.set_begin_index(0)
    sigma_data = sched.config.sigma_data
    z = torch.from_numpy(rng.standard_normal(LATENT_SHAPE).astype(np.float32))
    case["latents"] = f32_list(z.numpy())
    latents = z * sigma_data
    seed = int(rng.integers(0, 2**31))
    generator = torch.Generator().manual_seed(seed)
    noise_mirror = torch.Generator().manual_seed(seed)  # replays the scheduler's draws
    case["model_outputs"], case["noise"], case["expected"] = [], [], []
    for i, t in enumerate(sched.timesteps[:-1]):
        timestep = t.expand(latents.shape[0])
        latents_model_input = latents / sigma_data
        scm_timestep = torch.sin(timestep) / (torch.cos(timestep) + torch.sin(timestep))
        tau = scm_timestep.view(-1, 1, 1, 1)
        latent_model_input = latents_model_input * torch.sqrt(tau**2 + (1 - tau) ** 2)
        v = torch.from_numpy(rng.standard_normal(LATENT_SHAPE).astype(np.float32))
        noise_pred = ((1 - 2 * tau) * latent_model_input + (1 - 2 * tau + 2 * tau**2) * v) / torch.sqrt(
            tau**2 + (1 - tau) ** 2)
        noise_pred = noise_pred.float() * sigma_data
        eps = torch.randn(LATENT_SHAPE, generator=noise_mirror)
        latents, denoised = sched.step(noise_pred, timestep, latents, generator=generator, return_dict=False)
        case["model_outputs"].append(f32_list(v.numpy()))
        case["noise"].append(f32_list(eps.numpy()))
        last = i == n - 1
        case["expected"].append(f32_list(((denoised if last else latents) / sigma_data).numpy()))
    return case


def trajectories():
    rng = np.random.default_rng(20240917)
    cases = []
    dpm = [
        dict(name="dpm_o2_n20_s3", order=2, steps=20, shift=3.0),
        dict(name="dpm_o2_n5_s3", order=2, steps=5, shift=3.0),
        dict(name="dpm_o2_n1_s3", order=2, steps=1, shift=3.0),
        dict(name="dpm_o2_n2_s6", order=2, steps=2, shift=6.0),
        dict(name="dpm_o2_n28_s4", order=2, steps=28, shift=4.0),
        dict(name="dpm_o1_n10_s3", order=1, steps=10, shift=3.0),
        dict(name="dpm_o3_n10_s3", order=3, steps=10, shift=3.0),
        dict(name="dpm_o3_n20_s3", order=3, steps=20, shift=3.0),
        dict(name="dpm_o2_n20_s3_sigma_min", order=2, steps=20, shift=3.0, final="sigma_min"),
        dict(name="dpm_o2_n20_s3_sigma_min_euler_final", order=2, steps=20, shift=3.0, final="sigma_min",
             euler_at_final=True),
    ]
    for c in dpm:
        cases.append(run_dpm(dict(c, sampler="flow-dpm"), rng))
    for c in [dict(name="euler_n10_s3", steps=10, shift=3.0), dict(name="euler_n28_s1", steps=28, shift=1.0),
              dict(name="euler_n2_s7", steps=2, shift=7.0)]:
        cases.append(run_euler(dict(c, sampler="flow-euler"), rng))
    for c in [dict(name="scm_n2", steps=2), dict(name="scm_n4", steps=4), dict(name="scm_n1", steps=1),
              dict(name="scm_custom", steps=3, angles=[1.5708, 1.1, 0.6, 0.0])]:
        cases.append(run_scm(dict(c, sampler="scm"), rng))
    # Added after the others so their random draws stay as they were: diffusers' heun second-order update.
    for c in [dict(name="dpm_o2_n20_s3_heun", order=2, steps=20, shift=3.0, solver_type="heun"),
              dict(name="dpm_o2_n20_s3_heun_sigma_min", order=2, steps=20, shift=3.0, solver_type="heun",
                   final="sigma_min"),
              dict(name="dpm_o3_n10_s3_heun", order=3, steps=10, shift=3.0, solver_type="heun")]:
        cases.append(run_dpm(dict(c, sampler="flow-dpm"), rng))
    # Added later still: Heun (two evaluations per step) and UniPC in flow mode.
    for c in [dict(name="heun_n10_s3", steps=10, shift=3.0), dict(name="heun_n1_s3", steps=1, shift=3.0),
              dict(name="heun_n2_s6", steps=2, shift=6.0), dict(name="heun_n28_s1", steps=28, shift=1.0)]:
        cases.append(run_heun(dict(c, sampler="flow-heun"), rng))
    for c in [dict(name="unipc_o2_n20_s3", order=2, steps=20, shift=3.0),
              dict(name="unipc_o2_n5_s3", order=2, steps=5, shift=3.0),
              dict(name="unipc_o2_n1_s3", order=2, steps=1, shift=3.0),
              dict(name="unipc_o2_n2_s6", order=2, steps=2, shift=6.0),
              dict(name="unipc_o1_n10_s3", order=1, steps=10, shift=3.0),
              dict(name="unipc_o3_n10_s3", order=3, steps=10, shift=3.0),
              dict(name="unipc_o3_n28_s4_bh1", order=3, steps=28, shift=4.0, solver_type="bh1"),
              dict(name="unipc_o2_n20_s3_bh1", order=2, steps=20, shift=3.0, solver_type="bh1"),
              dict(name="unipc_o2_n10_s3_nocorr", order=2, steps=10, shift=3.0, disable_corrector=[0, 3])]:
        cases.append(run_unipc(dict(c, sampler="flow-unipc"), rng))
    return cases


class _PagStub(PAGMixin):
    def __init__(self, pag_scale, pag_adaptive_scale):
        self._pag_scale = pag_scale
        self._pag_adaptive_scale = pag_adaptive_scale
        self._pag_applied_layers = ["transformer_blocks.8"]

    @property
    def pag_applied_layers(self):
        return self._pag_applied_layers


def guidance():
    rng = np.random.default_rng(7)
    cases = []
    for cfg, pag, adaptive, t in [(4.5, 0.0, 0.0, 999), (5.0, 2.0, 0.0, 817), (5.0, 3.0, 0.01, 900),
                                  (5.0, 3.0, 0.01, 500), (1.0, 2.0, 0.0, 617), (1.0, 3.0, 0.005, 749)]:
        do_cfg = cfg > 1.0
        do_pag = pag > 0.0
        n = 1 + int(do_cfg) + int(do_pag)
        branches = torch.from_numpy(rng.standard_normal((n,) + LATENT_SHAPE).astype(np.float32))
        t_tensor = torch.tensor(t, dtype=torch.int64)
        if do_pag:
            out = _PagStub(pag, adaptive)._apply_perturbed_attention_guidance(branches, do_cfg, cfg, t_tensor)
        else:
            u, c = branches.chunk(2)
            out = u + cfg * (c - u)
        cases.append({"guidance_scale": cfg, "pag_scale": pag, "pag_adaptive_scale": adaptive, "timestep": t,
                      "branches": [f32_list(b.numpy()) for b in branches], "expected": f32_list(out.numpy())})
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = pathlib.Path(__file__).resolve().parents[2]
    parser.add_argument("--out", type=pathlib.Path, default=repo / "tests" / "data" / "sampling")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    meta = {"generator": "tools/reference/sampling_fixtures.py", "diffusers": diffusers.__version__,
            "torch": torch.__version__, "numpy": np.__version__, "latent_shape": list(LATENT_SHAPE)}
    for name, content in [("schedules.json", schedules()), ("trajectories.json", trajectories()),
                          ("guidance.json", guidance())]:
        path = args.out / name
        path.write_text(json.dumps({"meta": meta, "cases": content}, separators=(",", ":")) + "\n")
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
