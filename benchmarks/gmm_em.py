"""Batched EM against a Python loop of scikit-learn fits, on the same chains.

    python benchmarks/gmm_em.py [--chains 64] [--samples 1000] [--device cpu]

Every chain holds M points of the chapter's two-cluster data. The baseline fits one
``GaussianMixture`` per chain in a loop; the batched EM fits all chains in one call. Both
use the chapter's settings (tol 1e-5, max_iter 2000) and are timed side by side in one
run; the script prints both times, their ratio, and the largest log-likelihood gap.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.mixture import GaussianMixture

from collapse_lib.families.gmm import two_clusters
from collapse_lib.families.gmm_em import fit_em, mean_log_likelihood


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=64)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timings")
    args = parser.parse_args(argv)
    x = two_clusters().sample(args.chains, args.samples, np.random.default_rng(0))
    kw = dict(tol=1e-5, max_iter=2000)

    def loop():
        return [GaussianMixture(2, random_state=c, **kw).fit(x[c]) for c in range(args.chains)]

    xt = torch.tensor(x, device=args.device)

    def batched():
        res = fit_em(xt, 2, **kw)
        if args.device == "cuda":
            torch.cuda.synchronize()
        return res

    batched()  # warm-up (kernels, allocator)
    t_loop = min(_time(loop) for _ in range(args.repeats))
    t_batch = min(_time(batched) for _ in range(args.repeats))
    fits, res = loop(), batched()
    ll_sk = np.array([f.score(x[c]) for c, f in enumerate(fits)])
    ll_ours = mean_log_likelihood(xt, res.weights, res.means, res.covs).cpu().numpy()
    print(f"{args.chains} chains x {args.samples} points, 2 components, full covariance, tol 1e-5; "
          f"torch threads {torch.get_num_threads()}, device {args.device}")
    print(f"scikit-learn loop: {t_loop:.3f} s")
    print(f"batched EM:        {t_batch:.3f} s")
    print(f"speed-up:          {t_loop / t_batch:.1f}x")
    print(f"log-likelihood, batched minus scikit-learn: min {np.min(ll_ours - ll_sk):+.2e}, "
          f"max {np.max(ll_ours - ll_sk):+.2e}")
    return 0


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
