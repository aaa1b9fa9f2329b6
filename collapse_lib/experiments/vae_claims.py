"""Chapter 3, variational autoencoders: what the paper printed, the chapter's numbers and
the statements the chapter makes about its run (:func:`summary`, :func:`claims`).

The paper is Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024), and the authors' ``VAE_experiments`` notebook.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim

if TYPE_CHECKING:
    from .vae import Result

#: What the paper's notebook printed: std of the generation-0 encoder's latent means on
#: 100 images of each of five generations (one run), and the range over its five runs.
PAPER = {
    "latent_std": [0.674, 0.608, 0.527, 0.468, 0.433],
    "range_first": (0.67, 0.70),
    "range_last": (0.43, 0.47),
    "images_measured": 100,
}

#: How each scheme is named in the claims.
SCHEME_WORDS = {"fresh": "fresh decoder samples every batch", "fixed": "a fixed synthetic set per generation"}


def summary(res: Result) -> dict:
    """The chapter's numbers, as JSON-ready values (what the CLI writes)."""
    out = {
        "data": res.data,
        "classifier_accuracy": res.classifier_accuracy,
        "real_latent_std": res.real_spread.tolist(),
        "paper_latent_std": PAPER["latent_std"],
        "policies": {},
    }
    for name, p in res.policies.items():
        out["policies"][name] = {
            "policy": p.policy,
            "synthetic": p.synthetic,
            "latent_std_mean": p.spread.mean(1).tolist(),
            "latent_std_by_chain": p.spread.tolist(),
            "ratio_last_to_first": float(p.ratio.mean()),
            "effective_classes_mean": p.effective.mean(1).tolist(),
            "loss_mean": p.loss.mean(1).tolist(),
        }
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


def _mean_range(values: np.ndarray) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f} over {v.size} chains)"


def claims(res: Result) -> dict[str, Claim]:
    """The statements the chapter makes about its own run, computed from its numbers, by
    key; the keys of the claims about one scheme end in its name (``_fresh``, ``_fixed``)."""
    out: dict[str, Claim] = {}
    for scheme in res.schemes:
        rep, mix = res.by_policy.get("replace", {}).get(scheme), res.by_policy.get("mix", {}).get(scheme)
        how = SCHEME_WORDS[scheme]
        if rep is not None:
            G = len(rep.spread) - 1
            out[f"replace_spread_falls_{scheme}"] = claim(
                f"Without real data ({how}) the generation-0 encoder's latent spread falls: generation {G} is "
                "below generation 0 in every chain",
                np.all(rep.spread[-1] < rep.spread[0]),
                f"generation 0 {_mean_range(rep.spread[0])}, generation {G} {_mean_range(rep.spread[-1])}")
            eff = rep.effective
            out[f"replace_fewer_digits_{scheme}"] = claim(
                f"Without real data ({how}) fewer distinct digits are drawn: the effective number of classes of "
                "the last generation is below generation 0's (mean over chains)",
                eff[-1].mean() < eff[0].mean(),
                f"{eff[0].mean():.2f} -> {eff[-1].mean():.2f}; real training digits {res.real_effective:.2f}")
        if rep is None or mix is None:
            continue
        e_rep, e_mix = rep.effective[-1], mix.effective[-1]
        out[f"mix_more_digits_{scheme}"] = claim(
            f"Keeping 10 % real images (mix, {how}) keeps more distinct digits than replace: a larger effective "
            "number of classes at the last generation (mean over chains)",
            e_mix.mean() > e_rep.mean(), f"mix {e_mix.mean():.2f}, replace {e_rep.mean():.2f}")
        out[f"mix_slows_not_stops_{scheme}"] = claim(
            f"Mix slows the collapse but does not stop it ({how}): its last generation has less latent spread "
            "than generation 0 (mean over chains)",
            mix.spread[-1].mean() < mix.spread[0].mean(),
            f"generation 0 {mix.spread[0].mean():.3f}, last {mix.spread[-1].mean():.3f}")
        if scheme == res.schemes[0]:
            s_rep, s_mix = rep.spread[1:].mean(), mix.spread[1:].mean()
            out["mix_more_spread"] = claim(
                f"With {how} (the main scheme), mix keeps more latent spread than replace, averaged over the "
                "synthetic generations and chains",
                s_mix > s_rep, f"mix {s_mix:.3f}, replace {s_rep:.3f}")
    rep = res.by_policy.get("replace", {})
    if "fresh" in rep and "fixed" in rep:
        fresh, fixed = rep["fresh"].ratio, rep["fixed"].ratio
        faster = "the fixed set" if fixed.mean() < fresh.mean() else "fresh samples"
        out["scheme_changes_loss"] = claim(
            "The scheme changes how much spread is lost: without real data the last / first ratios of the two "
            "schemes do not overlap over the chains",
            fixed.max() < fresh.min() or fresh.max() < fixed.min(),
            f"last / first: fresh {_mean_range(fresh)}, fixed {_mean_range(fixed)}; {faster} lost more")
    return out
