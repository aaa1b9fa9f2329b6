"""Language models fine-tuned, generation after generation, on their predecessor's text.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), fine-tune OPT-125m on wikitext-2 in 64-token blocks. Every later
generation lets the previous model continue every training block with 5-way beam search
(64 new tokens) and fine-tunes a copy of the model fine-tuned on real text (generation 0)
on the continuations alone; the models are scored on the real test set.

As a model family of the engine (:mod:`collapse_lib.engine`):

- a training set is a :class:`TokenBlocks`, the blocks of every chain as token ids
  (C, n, block_size); two sets pool by concatenation, so every data policy applies;
- the parameters are an :class:`LMParams`: per chain, the key of a checkpoint file (the
  fine-tuned weights, written atomically into ``checkpoint_dir``, normally inside the
  run store) and the statistics of its training. Weights of OPT-125m are far too large to
  keep inside every generation's record, and a file per model lets a resumed run load
  exactly the model it left;
- ``sample(params, n, rng)`` picks ``n`` of the real training blocks per chain as
  prompts (one call on ``rng``) and returns the chain's model's beam-search
  continuations of them, each ``block_size`` new tokens long, so a synthetic block has
  the shape of a real one;
- ``fit`` fine-tunes a copy of the model it starts from per chain: the base model, or,
  with ``start="generation0"``, the chain's generation-0 model for every later generation
  (the paper: "we use the best-performing model on the original task, evaluated using the
  original wikitext2 validation set, as the base model for the subsequent generations").
  With ``validation`` blocks, every fit keeps the epoch with the lowest loss on them (the
  authors' ``ModelCheckpoint``). Its seed (shuffling, dropout) is a hash of the family's
  seed, the chain, the training tokens and the start, so training is a deterministic
  function of its data and a resumed run retrains exactly what an uninterrupted one would;
- ``decoding="sample"`` replaces beam search by ancestral sampling at temperature 1
  (:mod:`collapse_lib.lm.sampling`), and ``select`` keeps, of the ``num_beams`` finished
  beams, another than the best: the one of lowest perplexity under the generator
  (``"self"``) or under the chain's generation-0 model (``"verifier"``), or one at random,
  the selections of Feng et al., "Beyond Model Collapse: Scaling Up with Synthesized Data
  Requires Verification" (arXiv 2406.07515), in chapter 7. The random numbers of a block
  are a hash of the family's seed, the chain and the block, so a block's continuation does
  not depend on how a chain's blocks are shared out.

``fit``, ``sample`` and the scores loop over every chain through per-chain operations
(:meth:`LMFamily.fit_chain`, :meth:`LMFamily.draw_prompts` once for all chains, then
:meth:`LMFamily.sample_chain`, :meth:`LMFamily.perplexity`), which
:func:`collapse_lib.distributed.shared` uses to share a unit's chains out over ranks.
"""
from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..arrays import ArrayRecord, PointSet
from ..validation import check_choice, check_int, check_positive

#: How continuations are made: beam search (the paper's) or sampling at temperature 1.
DECODINGS = ("beam", "sample")
#: Which of a block's beams is kept (chapter 7): the best beam (the paper's), or the one
#: of lowest perplexity under the generator or under generation 0's model, or one at random.
SELECTIONS = ("top", "self", "verifier", "random")
#: What every fit after generation 0 starts from.
STARTS = ("base", "generation0")


@dataclass
class TokenBlocks(PointSet):
    """Token blocks of every chain: ``tokens`` (C, n, block_size), ``int32``."""

    tokens: np.ndarray


@dataclass
class LMParams(ArrayRecord):
    """Per chain (C,): the checkpoint key of the fine-tuned model, its last-epoch training
    loss (nats per token), the training throughput (tokens/s, and MFU or NaN), and the
    epoch whose weights were kept (1-based)."""

    key: np.ndarray
    loss: np.ndarray
    tokens_per_s: np.ndarray
    mfu: np.ndarray
    epoch: np.ndarray


def fit_seed(seed: int, chain: int, tokens: np.ndarray, *more: int) -> int:
    """The training seed of one chain: a hash of the family seed, the chain, the tokens and
    any ``more`` integers (the key of the model a fit starts from, a tag)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.array([seed, chain, *tokens.shape], dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(tokens, dtype=np.int32).tobytes())
    if more:
        h.update(np.array(more, dtype=np.int64).tobytes())
    return int.from_bytes(h.digest(), "little") & (2**62 - 1)


def block_rngs(seed: int, chain: int, blocks: np.ndarray, tag: int) -> list[np.random.Generator]:
    """A generator per block, seeded by a hash of the seed, the chain, the block and ``tag``."""
    return [np.random.default_rng(fit_seed(seed, chain, b, tag)) for b in np.asarray(blocks)]


#: Tags of the random streams drawn per block.
UNIFORMS_TAG, CHOICE_TAG = 1, 2


@dataclass
class LMFamily:
    """A copy of ``base`` per chain, fine-tuned on each generation's blocks."""

    base: Any  # the pretrained model (a transformers causal LM, kept on the CPU)
    prompts: np.ndarray  # (N, block_size) the real training blocks that sampling continues
    checkpoint_dir: str | Path  # where fine-tuned weights are written (one file per model)
    epochs: int = 5  # passes over each training set (the paper: 5 without real data, 10 with 10 %)
    batch_size: int = 128  # blocks per optimizer step (the paper: 128)
    micro_batch_size: int | None = None  # blocks per forward pass (gradient accumulation), None: all
    lr: float = 2e-5  # AdamW peak learning rate (the paper: 2e-5)
    min_lr: float = 1e-6  # end of the cosine schedule (the paper: 1e-6)
    weight_decay: float = 0.0  # AdamW weight decay
    num_beams: int = 5  # beam width of the continuations (the paper: 5)
    repetition_penalty: float = 3.0  # (the authors' code: 3.0; the paper's ablation: 2.0)
    generate_batch_size: int = 64  # blocks continued at once
    eval_batch_size: int = 64  # blocks scored at once
    seed: int = 0  # mixed into every chain's training seed
    device: str | None = None  # "cpu", "cuda", or None for the runtime's choice
    cpu_threads: int | None = None  # torch threads on the CPU (1 is fastest for tiny models)
    validation: np.ndarray | None = None  # real blocks on which every fit keeps its best epoch; None: the last
    start: str = "base"  # what every fit after generation 0 starts from: "base" or "generation0"
    decoding: str = "beam"  # "beam": num_beams-way beam search (the paper's); "sample": temperature 1
    select: str = "top"  # which finished beam a block keeps: "top", "self", "verifier" or "random"
    generation0: LMParams | None = None  # generation 0's models, set by the run once they are fitted
    _models: dict = field(default_factory=dict, init=False, repr=False)  # checkpoint key -> loaded model
    throughput_: list = field(default_factory=list, init=False, repr=False)  # (what, tokens/s, mfu) of the fits made by this process

    Params = LMParams
    Data = TokenBlocks
    min_samples = 1

    def __post_init__(self):
        from ..lm.generate import check_generation_settings
        from ..lm.models import max_positions

        for name in ("epochs", "batch_size", "eval_batch_size"):
            check_int(name, getattr(self, name), minimum=1)
        if self.micro_batch_size is not None:
            check_int("micro_batch_size", self.micro_batch_size, minimum=1)
        check_int("seed", self.seed, minimum=0)
        check_positive("lr", self.lr)
        check_choice("start", self.start, STARTS)
        check_choice("decoding", self.decoding, DECODINGS)
        check_choice("select", self.select, SELECTIONS)
        if self.decoding == "sample" and self.select != "top":
            raise ValueError(f"select={self.select!r} is not allowed with decoding='sample': a selection chooses "
                             "among the finished beams of beam search; use decoding='beam'")
        if self.select != "top" and self.num_beams < 2:
            raise ValueError(f"select={self.select!r} is not allowed with num_beams={self.num_beams!r}: there is "
                             "nothing to choose from; use num_beams >= 2")
        check_generation_settings(num_beams=self.num_beams, max_new_tokens=1,
                                  repetition_penalty=self.repetition_penalty, batch_size=self.generate_batch_size)
        self.prompts = np.asarray(self.prompts, dtype=np.int32)
        if self.prompts.ndim != 2 or len(self.prompts) == 0:
            raise ValueError(f"prompts of shape {self.prompts.shape} are not allowed: "
                             "they must be (N >= 1, block_size)")
        if 2 * self.block_size > max_positions(self.base):
            raise ValueError(f"block_size={self.block_size!r} is not allowed: a block and its continuation "
                             f"({2 * self.block_size} tokens) must fit the model's "
                             f"{max_positions(self.base)} positions")
        if self.validation is not None:
            self.validation = np.asarray(self.validation, dtype=np.int32)
            if self.validation.ndim != 2 or len(self.validation) == 0:
                raise ValueError(f"validation blocks of shape {self.validation.shape} are not allowed: they must "
                                 "be (m >= 1, block_size), or None")
        if self.device is not None and self.device not in ("cpu", "cuda"):
            raise ValueError(f"device={self.device!r} is not allowed: it must be one of 'cpu', 'cuda' or None")
        self.checkpoint_dir = Path(self.checkpoint_dir)

    @property
    def block_size(self) -> int:
        return self.prompts.shape[1]

    # ------------------------------------------------------------------ models
    def torch_device(self):
        import torch

        from ..runtime import device

        return torch.device(self.device) if self.device else device()

    def _threads(self):
        from ..runtime import cpu_threads

        return cpu_threads(self.cpu_threads if self.torch_device().type == "cpu" else None)

    def _bars(self) -> bool | None:
        # inner progress bars only where a generation takes minutes (on a GPU, at full size)
        return None if self.torch_device().type == "cuda" else False

    def checkpoint(self, key) -> Path:
        return self.checkpoint_dir / f"model-{int(key):016x}.pt"

    def fresh_model(self):
        """A copy of the base model on the family's device."""
        return copy.deepcopy(self.base).to(self.torch_device())

    def _generation0(self, why: str) -> LMParams:
        if self.generation0 is None:
            raise RuntimeError(f"{why} needs generation 0's models: the run sets generation0 once they are fitted")
        return self.generation0

    def start_model(self, chain: int) -> tuple[Any, tuple]:
        """A copy of the model chain ``chain``'s next fit starts from, and what identifies
        it in the fit's seed: the base model before generation 0 exists or with
        ``start="base"``, else the chain's generation-0 model."""
        if self.start == "base" or self.generation0 is None:
            return self.fresh_model(), ()
        return copy.deepcopy(self.model(self.generation0, chain)), (int(self.generation0.key[chain]),)

    def model(self, params: LMParams, chain: int):
        """Chain ``chain``'s fine-tuned model, on the family's device, in eval mode."""
        import torch

        key = int(params.key[chain])
        if key not in self._models:
            path = self.checkpoint(key)
            if not path.exists():
                raise FileNotFoundError(f"the checkpoint {path} of a finished generation is missing: delete the run "
                                        "directory to start the run over")
            m = self.fresh_model()
            m.load_state_dict(torch.load(path, map_location=self.torch_device(), weights_only=True))
            self._remember(key, m.eval())
        return self._models[key]

    def _remember(self, key: int, model) -> None:
        # the last few models are kept in memory (a generation samples from the one
        # before it, and the chapter scores with generation 0's)
        self._models[key] = model
        while len(self._models) > 4:
            self._models.pop(next(iter(self._models)))

    def forget(self, keep=()) -> None:
        """Drop loaded models (except the keys in ``keep``) from memory."""
        keep = {int(k) for k in keep}
        for k in [k for k in self._models if k not in keep]:
            del self._models[k]

    def prune_checkpoints(self, keep) -> list[Path]:
        """Delete the checkpoint files whose keys are not in ``keep``; returns them."""
        keep = {self.checkpoint(k).name for k in keep}
        gone = [p for p in self.checkpoint_dir.glob("model-*.pt") if p.name not in keep]
        for p in gone:
            p.unlink(missing_ok=True)
        return gone

    # ------------------------------------------------------------------ the family API
    def summarize(self, points) -> TokenBlocks:
        points = np.asarray(points)
        if points.ndim != 3 or points.shape[2] != self.block_size:
            raise ValueError(f"blocks of shape {points.shape} are not allowed: they must be "
                             f"(chains, n, {self.block_size})")
        return TokenBlocks(points.astype(np.int32))

    def fit_chain(self, data: TokenBlocks, chain: int, group=None, save: bool = True) -> tuple:
        """Fine-tune a copy of the start model (:meth:`start_model`) on chain ``chain``'s blocks and, with
        ``save``, write its checkpoint; returns the chain's ``(key, loss, tokens/s, mfu)``
        (see :meth:`join_params`). ``group`` is passed to
        :func:`collapse_lib.lm.train.fine_tune` (data-parallel training, None: alone)."""
        import io

        import torch

        from ..lm.train import fine_tune
        from ..store import atomic_write_bytes

        model, start = self.start_model(chain)
        key = fit_seed(self.seed, chain, data.tokens[chain], *start)
        with self._threads():
            stats = fine_tune(model, data.tokens[chain], epochs=self.epochs, batch_size=self.batch_size,
                              micro_batch_size=self.micro_batch_size, lr=self.lr, min_lr=self.min_lr,
                              weight_decay=self.weight_decay, seed=key, progress=self._bars(),
                              desc=f"fine-tuning chain {chain}", group=group, validation=self.validation)
        if save:
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
            atomic_write_bytes(self.checkpoint(key), buf.getvalue())
        self._remember(key, model)
        self.throughput_.append(("train", stats.tokens_per_s, stats.mfu))
        epoch = self.epochs if stats.best_epoch is None else stats.best_epoch
        return key, stats.losses[-1], stats.tokens_per_s, np.nan if stats.mfu is None else stats.mfu, epoch

    @staticmethod
    def join_params(chains: list) -> LMParams:
        """The :class:`LMParams` of every chain's :meth:`fit_chain` result, in chain order."""
        keys, losses, tps, mfu, epoch = zip(*chains)
        return LMParams(np.array(keys, dtype=np.int64), np.array(losses), np.array(tps), np.array(mfu),
                        np.array(epoch, dtype=np.int64))

    def fit(self, data: TokenBlocks) -> LMParams:
        """A copy of the start model per chain, fine-tuned on that chain's blocks."""
        return self.join_params([self.fit_chain(data, c) for c in range(data.chains)])

    def continue_blocks(self, params: LMParams, chain: int, blocks: np.ndarray) -> np.ndarray:
        """Chain ``chain``'s model's continuations (n, block_size) of ``blocks``: the best
        beam, the beam ``select`` keeps, or a sample at temperature 1 (``decoding``)."""
        import time

        from ..lm.generate import generate_continuations
        from ..lm.sampling import sample_continuations

        model, T = self.model(params, chain), self.block_size
        begin = time.perf_counter()
        with self._threads():
            if self.decoding == "sample":
                uniforms = np.stack([g.random(T) for g in block_rngs(self.seed, chain, blocks, UNIFORMS_TAG)])
                out = sample_continuations(model, blocks, uniforms, batch_size=self.generate_batch_size)
            else:
                k = None if self.select == "top" else self.num_beams
                out = generate_continuations(model, blocks, num_beams=self.num_beams, max_new_tokens=T,
                                             repetition_penalty=self.repetition_penalty,
                                             batch_size=self.generate_batch_size, progress=self._bars(),
                                             desc=f"continuing blocks, chain {chain}", candidates=k)
                if k is not None:
                    out = out[np.arange(len(out)), self.choose(params, chain, blocks, out)]
        seconds = time.perf_counter() - begin
        self.throughput_.append(("generate", len(blocks) * T / seconds if seconds > 0 else np.nan, None))
        return out

    def choose(self, params: LMParams, chain: int, blocks: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(n,) the index of the beam every block keeps, of ``candidates`` (n, k, T): the one
        of lowest perplexity under the generator (``select="self"``) or under the chain's
        generation-0 model (``"verifier"``), or one drawn uniformly (``"random"``)."""
        n, k, T = candidates.shape
        if self.select == "random":
            return np.array([g.integers(k) for g in block_rngs(self.seed, chain, blocks, CHOICE_TAG)])
        judge = params if self.select == "self" else self._generation0("select='verifier'")
        return self.sequence_perplexity(judge, chain, candidates.reshape(n * k, T)).reshape(n, k).argmin(axis=1)

    def draw_prompts(self, chains: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """(chains, n) indices of the training blocks every chain continues, drawn without
        replacement with one call on ``rng`` (all of them, shuffled, when ``n`` is N)."""
        N = len(self.prompts)
        if n > N:
            raise ValueError(f"samples={n!r} is not allowed: there are only {N} training blocks to continue")
        return np.argsort(rng.random((chains, N)), axis=1)[:, :n]

    def sample_chain(self, params: LMParams, chain: int, prompts: np.ndarray) -> np.ndarray:
        """Chain ``chain``'s continuations (len(prompts), block_size) of the training blocks
        numbered ``prompts`` (a row of :meth:`draw_prompts`, or a share of one)."""
        blocks = self.prompts[np.asarray(prompts, dtype=np.int64)]
        return self.continue_blocks(params, chain, blocks) if len(blocks) else blocks

    def sample(self, params: LMParams, n: int, rng: np.random.Generator) -> TokenBlocks:
        """Continuations of ``n`` real training blocks per chain, the prompts drawn by
        :meth:`draw_prompts`."""
        idx = self.draw_prompts(params.chains, n, rng)
        out = np.empty((params.chains, n, self.block_size), dtype=np.int32)
        for c in range(params.chains):
            out[c] = self.sample_chain(params, c, idx[c])
        return TokenBlocks(out)

    # ------------------------------------------------------------------ scores
    def perplexity(self, params: LMParams, chain: int, blocks: np.ndarray) -> float:
        """Corpus perplexity of ``blocks`` under chain ``chain``'s model."""
        from ..lm.perplexity import corpus_perplexity

        with self._threads():
            return corpus_perplexity(self.model(params, chain), blocks, batch_size=self.eval_batch_size)

    def sequence_perplexity(self, params: LMParams, chain: int, blocks: np.ndarray) -> np.ndarray:
        """Perplexity of every block under chain ``chain``'s model."""
        from ..lm.perplexity import sequence_perplexity

        with self._threads():
            return sequence_perplexity(self.model(params, chain), blocks, batch_size=self.eval_batch_size)

    def perplexities(self, params: LMParams, blocks: np.ndarray) -> np.ndarray:
        """(C,) corpus perplexity of the same ``blocks`` under every chain's model."""
        return np.array([self.perplexity(params, c, blocks) for c in range(params.chains)])

    def sequence_perplexities(self, params: LMParams, tokens: np.ndarray) -> np.ndarray:
        """(C, n) perplexity of every chain's blocks ``tokens[c]`` under that chain's model."""
        return np.stack([self.sequence_perplexity(params, c, tokens[c]) for c in range(params.chains)])
