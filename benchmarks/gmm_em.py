"""Batched EM against a Python loop of scikit-learn fits, on the same chains.

    python -m benchmarks --only gmm_em            (one line of the table)
    python -m benchmarks.gmm_em [--chains 256] [--samples 1000] [--device cpu]

Every chain holds M points of chapter 2's two-cluster data (Shumailov et al., Nature
631:755, 2024, the GMM experiment). The baseline fits one ``GaussianMixture`` per chain
in a loop; the library's batched EM (:func:`collapse_lib.families.gmm_em.fit_em`) fits
all chains in one call. Both use the chapter's settings (tol 1e-5, max_iter 2000) and
are timed side by side in one run; the line also reports the largest gap between the
two fits' log-likelihoods, which shows they reach the same optimum.
"""
from __future__ import annotations

import argparse

import numpy as np

from .common import Result, default_device, rate, timed, torch_sync

NAME = "gmm_em"
TARGET = ">= 20x at 256 chains on a GPU; faster on the CPU"


def measure(chains: int, samples: int, device: str, repeats: int = 1) -> Result:
    import torch
    from sklearn.mixture import GaussianMixture

    from collapse_lib.families.gmm import two_clusters
    from collapse_lib.families.gmm_em import fit_em, mean_log_likelihood

    x = two_clusters().sample(chains, samples, np.random.default_rng(0))
    kw = dict(tol=1e-5, max_iter=2000)

    def loop():
        return [GaussianMixture(2, random_state=c, **kw).fit(x[c]) for c in range(chains)]

    xt = torch.tensor(x, device=device)
    sync = torch_sync(device)
    fit_em(xt, 2, **kw)  # warm-up (kernels, allocator)
    t_loop, fits = timed(loop, repeats)
    t_ours, res = timed(lambda: fit_em(xt, 2, **kw), max(repeats, 2), sync)
    ll_sk = np.array([f.score(x[c]) for c, f in enumerate(fits)])
    ll_ours = mean_log_likelihood(xt, res.weights, res.means, res.covs).cpu().numpy()
    gap = float(np.max(np.abs(ll_ours - ll_sk)))
    ratio = t_loop / t_ours
    on_gpu = device.startswith("cuda")
    met = bool(ratio >= 20) if (on_gpu and chains >= 256) else (bool(ratio > 1) if not on_gpu else None)
    return Result(
        f"GMM EM, {chains} chains x {samples} points", t_loop, t_ours, rate(chains / t_ours, "fits/s"), TARGET,
        met=met, notes=f"{device}; 2 components, full covariance, tol 1e-5; max |log-lik gap| {gap:.1e}",
        extra={"log_likelihood_gap": gap, "iterations_mean": float(res.n_iter.float().mean())},
    )


def run(quick: bool = False, device: str = "cpu") -> list[Result]:
    if quick:
        return [measure(16, 1000, device)]
    lines = [measure(256, 1000, device)]
    if device != "cpu":
        lines.append(measure(64, 1000, "cpu"))
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=256)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--repeats", type=int, default=1, help="best of this many timings")
    args = parser.parse_args(argv)
    r = measure(args.chains, args.samples, args.device, args.repeats)
    print(f"{r.benchmark}: scikit-learn loop {r.baseline_s:.3f} s, batched EM {r.ours_s:.3f} s, "
          f"speed-up {r.ratio:.1f}x ({r.notes})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
