"""Chapter 3, variational autoencoders: what the paper printed, the chapter's numbers and
the statements the chapter makes about its run (:func:`summary`, :func:`claims`).

The paper is Shumailov et al., "AI models collapse when trained on recursively generated
data" (Nature 631:755, 2024), and the authors' ``VAE_experiments`` notebook.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..claims import Claim, claim
from .vae_draws import pixel_claims

if TYPE_CHECKING:
    from .vae import Result

#: What the paper's notebook printed: std of the generation-0 encoder's latent means on
#: 100 images of each of five generations (one run), and the range over its five runs.
#: The notebook fills these values after training each generation's VAE on its
#: predecessor's decoder, so they belong to generations 1-5 (``first_generation``): the
#: VAE trained on real digits is never measured there. ``run_ratios``: generation 5 over
#: generation 1 in each of its five runs (notebook cell 14, as quoted by a referee of this
#: course; not checked here). ``loss_per_image``: the notebook's last-epoch losses per
#: image, generation 0 (real digits) to 5, as quoted by the same referee (not checked here).
PAPER = {
    "latent_std": [0.674, 0.608, 0.527, 0.468, 0.433],
    "first_generation": 1,
    "range_first": (0.67, 0.70),
    "range_last": (0.43, 0.47),
    "run_ratios": (0.667, 0.620, 0.662, 0.631, 0.643),
    "loss_per_image": (99, 123, 135, 144, 152, 158),
    "images_measured": 100,
    "generations_shown": 20,
}


def paper_step_ratios() -> np.ndarray:
    """(5,) the paper's per-generation ratio of the spread, generation 1 to 5 (four steps), per run."""
    steps = len(PAPER["latent_std"]) - 1
    return np.asarray(PAPER["run_ratios"]) ** (1.0 / steps)

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
            "step_ratio_from_generation1": p.step_ratio.tolist(),
            "active_units_mean": p.active.mean(1).tolist() if p.active is not None else None,
            "pixel_entropy_mean": p.entropy.mean(1).tolist() if p.entropy is not None else None,
            "effective_classes_mean": p.effective.mean(1).tolist(),
            "loss_mean": p.loss.mean(1).tolist(),
            "synthetic_pixels": p.pixels,
            "pixel_variance_kept_mean": p.kept.mean(1).tolist() if p.kept is not None else None,
            "pixel_variance_dropped_mean": p.dropped.mean(1).tolist() if p.dropped is not None else None,
            "training_variance_by_chain": p.train_variance[..., 0].tolist() if p.train_variance is not None else None,
        }
    cmp = res.pixel_comparison
    if cmp is not None:
        out["pixels_pace"] = {"policy": cmp.policy, "schemes": list(cmp.schemes), "log_ratio": cmp.log_ratio.tolist(),
                              "mean_log_ratio": cmp.mean_log_ratio, "standard_error": cmp.se_log_ratio,
                              "t": cmp.t, "p_value": cmp.p_value, "pairs": cmp.pairs}
    out["claims"] = [c.as_dict() for c in claims(res).values()]
    return out


def _mean_range(values: np.ndarray) -> str:
    v = np.asarray(values, float)
    return f"{v.mean():.3f} ({v.min():.3f}-{v.max():.3f} over {v.size} chains)"


def _separated(a: np.ndarray, b: np.ndarray) -> bool:
    """Every value of ``a`` above every value of ``b`` (the chains' ranges do not overlap)."""
    return bool(np.min(a) > np.max(b))


def claims(res: Result) -> dict[str, Claim]:
    """The statements the chapter makes about its own run, computed from its numbers, by
    key; the keys of the claims about one scheme end in its name (``_fresh``, ``_fixed``).

    Claims that compare runs ask for separated ranges over the chains (every chain of one
    run beyond every chain of the other); the ones about how the results relate to the
    paper or to a hypothesis (``mix_slows_*``, ``scheme_changes_loss``, ``paper_pace``)
    are shown by the page with :class:`collapse_lib.claims.ClaimReport`, so that a
    failure prints "does not hold" instead of stopping the page."""
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
                f"Without real data ({how}) the classifier assigns fewer classes: the effective number of classes "
                f"of generation {G} is below generation 0's in every chain",
                np.all(eff[-1] < eff[0]),
                f"generation 0 {_mean_range(eff[0])}, generation {G} {_mean_range(eff[-1])}; real test digits "
                f"{res.real_test_effective:.2f}, real training labels {res.real_effective:.2f}")
        if rep is None or mix is None:
            continue
        e_rep, e_mix = rep.effective[-1], mix.effective[-1]
        out[f"mix_more_digits_{scheme}"] = claim(
            f"Keeping 10 % real images (mix, {how}) keeps more classes than replace: at the last generation the "
            "effective number of classes of every mix chain is above that of every replace chain",
            _separated(e_mix, e_rep), f"mix {_mean_range(e_mix)}, replace {_mean_range(e_rep)}")
        out[f"mix_does_not_stop_{scheme}"] = claim(
            f"Keeping 10 % real images does not stop the fall of the spread ({how}): the last generation of "
            "mix is below generation 0 in every chain",
            np.all(mix.spread[-1] < mix.spread[0]),
            f"generation 0 {_mean_range(mix.spread[0])}, last {_mean_range(mix.spread[-1])}")
        s_rep, s_mix = rep.spread[-1], mix.spread[-1]
        out[f"mix_slows_{scheme}"] = claim(
            f"Keeping 10 % real images slows the fall of the spread ({how}): at the last generation every mix "
            "chain keeps more latent spread than every replace chain",
            _separated(s_mix, s_rep),
            f"mix {_mean_range(s_mix)}, replace {_mean_range(s_rep)}; means by generation: mix "
            + ", ".join(f"{v:.3f}" for v in mix.spread.mean(1)) + "; replace "
            + ", ".join(f"{v:.3f}" for v in rep.spread.mean(1)))
    rep = res.by_policy.get("replace", {})
    if "fresh" in rep and "fixed" in rep:
        fresh, fixed = rep["fresh"].ratio, rep["fixed"].ratio
        faster = "the fixed set" if fixed.mean() < fresh.mean() else "fresh samples"
        out["scheme_changes_loss"] = claim(
            "The scheme changes how much spread is lost: without real data the last / first ratios of the two "
            "schemes do not overlap over the chains",
            fixed.max() < fresh.min() or fresh.max() < fixed.min(),
            f"last / first: fresh {_mean_range(fresh)}, fixed {_mean_range(fixed)}; {faster} lost more on average")
    main = rep.get(res.schemes[0]) if rep else None
    if main is not None and len(main.spread) > 2:
        lo, hi = paper_step_ratios().min(), paper_step_ratios().max()
        ours = main.step_ratio
        out["paper_pace"] = claim(
            "The paper's pace: from the first synthetic generation on, the spread falls per generation as in the "
            f"paper's five runs (geometric mean ratio per generation {lo:.3f}-{hi:.3f}), in every chain",
            np.all((ours >= lo) & (ours <= hi)),
            f"ours, generation 1 to {len(main.spread) - 1}: {_mean_range(ours)} per generation; "
            f"{'above' if ours.min() > hi else 'below' if ours.max() < lo else 'overlapping'} the paper's range")
    out.update(pixel_claims(res))
    return out
