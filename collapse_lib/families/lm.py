"""Language models fine-tuned, generation after generation, on their predecessor's text.

Shumailov et al., "AI models collapse when trained on recursively generated data"
(Nature 631:755, 2024), fine-tune OPT-125m on wikitext-2 in 64-token blocks. Every later
generation lets the previous model continue every training block with 5-way beam search
(64 new tokens) and fine-tunes a fresh copy of the *base* (pretrained) model on the
continuations alone; the models are scored on the real test set.

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
- ``fit`` fine-tunes a fresh copy of the base model per chain. Its seed (shuffling,
  dropout) is a hash of the family's seed, the chain and the training tokens, so training
  is a deterministic function of its data and a resumed run retrains exactly what an
  uninterrupted one would.

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
from ..validation import check_int, check_positive


@dataclass
class TokenBlocks(PointSet):
    """Token blocks of every chain: ``tokens`` (C, n, block_size), ``int32``."""

    tokens: np.ndarray


@dataclass
class LMParams(ArrayRecord):
    """Per chain (C,): the checkpoint key of the fine-tuned model, its last-epoch training
    loss (nats per token), and the training throughput (tokens/s, and MFU or NaN)."""

    key: np.ndarray
    loss: np.ndarray
    tokens_per_s: np.ndarray
    mfu: np.ndarray


def fit_seed(seed: int, chain: int, tokens: np.ndarray) -> int:
    """The training seed of one chain: a hash of the family seed, the chain and the tokens."""
    h = hashlib.blake2b(digest_size=8)
    h.update(np.array([seed, chain, *tokens.shape], dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(tokens, dtype=np.int32).tobytes())
    return int.from_bytes(h.digest(), "little") & (2**62 - 1)


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
        """Fine-tune a fresh copy of the base model on chain ``chain``'s blocks and, with
        ``save``, write its checkpoint; returns the chain's ``(key, loss, tokens/s, mfu)``
        (see :meth:`join_params`). ``group`` is passed to
        :func:`collapse_lib.lm.train.fine_tune` (data-parallel training, None: alone)."""
        import io

        import torch

        from ..lm.train import fine_tune
        from ..store import atomic_write_bytes

        key = fit_seed(self.seed, chain, data.tokens[chain])
        model = self.fresh_model()
        with self._threads():
            stats = fine_tune(model, data.tokens[chain], epochs=self.epochs, batch_size=self.batch_size,
                              micro_batch_size=self.micro_batch_size, lr=self.lr, min_lr=self.min_lr,
                              weight_decay=self.weight_decay, seed=key, progress=self._bars(),
                              desc=f"fine-tuning chain {chain}", group=group)
        if save:
            buf = io.BytesIO()
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buf)
            atomic_write_bytes(self.checkpoint(key), buf.getvalue())
        self._remember(key, model)
        self.throughput_.append(("train", stats.tokens_per_s, stats.mfu))
        return key, stats.losses[-1], stats.tokens_per_s, np.nan if stats.mfu is None else stats.mfu

    @staticmethod
    def join_params(chains: list) -> LMParams:
        """The :class:`LMParams` of every chain's :meth:`fit_chain` result, in chain order."""
        keys, losses, tps, mfu = zip(*chains)
        return LMParams(np.array(keys, dtype=np.int64), np.array(losses), np.array(tps), np.array(mfu))

    def fit(self, data: TokenBlocks) -> LMParams:
        """A fresh copy of the base model per chain, fine-tuned on that chain's blocks."""
        return self.join_params([self.fit_chain(data, c) for c in range(data.chains)])

    def continue_blocks(self, params: LMParams, chain: int, blocks: np.ndarray) -> np.ndarray:
        """Chain ``chain``'s model's beam-search continuations (n, block_size) of ``blocks``."""
        from ..lm.generate import generate_continuations

        with self._threads():
            out, stats = generate_continuations(self.model(params, chain), blocks, num_beams=self.num_beams,
                                                max_new_tokens=self.block_size,
                                                repetition_penalty=self.repetition_penalty,
                                                batch_size=self.generate_batch_size, return_stats=True,
                                                progress=self._bars(), desc=f"continuing blocks, chain {chain}")
        self.throughput_.append(("generate", stats.tokens_per_s, None))
        return out

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
