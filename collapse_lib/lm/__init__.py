"""Language models for the course: a local BPE tokenizer, OPT-125m and a tiny GPT-2,
a fine-tuning loop written for throughput, batched beam-search generation of whole data
sets, and perplexity per token, per sequence and per corpus (chapter 4, after Shumailov
et al., Nature 631:755, 2024).

Torch and transformers are imported when a function needs them, so importing this
package is cheap.
"""
from .generate import GenerationStats, generate_continuations
from .models import OPT_125M, TinyGPTConfig, count_parameters, load_pretrained, max_positions, tiny_gpt2
from .perplexity import corpus_perplexity, sequence_perplexity, token_nll
from .tokenizer import load_tokenizer, save_tokenizer, train_bpe
from .train import PEAK_FLOPS, FineTuneStats, fine_tune, model_flops_utilisation, peak_flops

__all__ = [
    "FineTuneStats",
    "GenerationStats",
    "OPT_125M",
    "PEAK_FLOPS",
    "TinyGPTConfig",
    "corpus_perplexity",
    "count_parameters",
    "fine_tune",
    "generate_continuations",
    "load_pretrained",
    "load_tokenizer",
    "max_positions",
    "model_flops_utilisation",
    "peak_flops",
    "save_tokenizer",
    "sequence_perplexity",
    "tiny_gpt2",
    "token_nll",
    "train_bpe",
]
