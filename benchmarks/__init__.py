"""Performance benchmarks of the course library (course specification §7).

    python -m benchmarks [--quick] [--only NAME ...] [--json PATH] [--device cpu|cuda]

Each line of the printed table is a ratio measured side by side in one run, the
obvious baseline against the library's way, with the absolute times and throughput
beside it, and the target of the specification. ``--quick`` keeps the whole run to a
few minutes on two CPU cores; CI runs it and fails only on errors, never on timings.
"""

#: The benchmark modules, in the order of the table.
MODULES = ("chains", "gmm_em", "vae", "lm_generate", "lm_train", "book")
