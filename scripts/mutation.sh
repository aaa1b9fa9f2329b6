#!/usr/bin/env bash
# Mutation testing of the core modules with mutmut: each mutant is one small plausible
# bug (an operator, a constant, a condition changed), and the fast tests of its module
# must fail on it. Survivors that are equivalent or acceptable are listed, with the
# reason, in tests/MUTANTS.md.
#
#   bash scripts/mutation.sh                 # every module below, one after the other
#   bash scripts/mutation.sh store theory_gaussian   # some of them
#   MUTATION_JOBS=4 bash scripts/mutation.sh   # mutants run in parallel (default 2)
#   MUTATION_TESTS_REV=<commit> bash scripts/mutation.sh   # the tests of another commit
#                                            # (to compare scores before and after a change)
#   MUTATION_RECHECK=1 bash scripts/mutation.sh lm_train   # after adding tests: rerun only the
#                                            # last run's survivors, against the current tests
#
# Each module runs in its own scratch copy of the repository (MUTATION_WORK, default
# $TMPDIR/collapse-mutation/<module>), with only that module mutated and only its fast
# test files run against each mutant (mutmut runs, for each mutant, the tests that call
# the mutated function). The script prints one line per module, killed / mutants and
# the score, and writes the survivors to <module>/survivors.txt. It is too slow for CI
# and needs no GPU: with MUTATION_JOBS=1 on two cores shared with other work, lm_train
# took 217 s, theory_gmm 275 s, theory_random_features 561 s, families_gmm 283 s,
# families_linreg 232 s, families_random_features 137 s, families_gaussian 104 s, the
# zipf and categorical modules and runtime under a minute each; the whole list has not been
# timed in one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
source scripts/setup.sh >/dev/null
python -m pip install -q -r requirements-dev.txt

export COLLAPSE_PROFILE=quick CI=true HF_HUB_OFFLINE=1 MPLBACKEND=Agg
# One thread per library: mutmut forks each mutant from a process that has run the tests,
# and a child forked after torch's OpenMP pool started waits forever on it (mutmut then
# reports a "timeout", counted as killed, for a mutant that may have survived).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
WORK=${MUTATION_WORK:-${TMPDIR:-/tmp}/collapse-mutation}
JOBS=${MUTATION_JOBS:-2}
LM_TRAIN="tests/test_lib_lm.py::test_fine_tuning_lowers_the_loss_and_reports_throughput
tests/test_lib_lm.py::test_fine_tuning_is_deterministic_and_accumulation_matches_one_batch
tests/test_lib_lm.py::test_fine_tuning_settings_are_checked
tests/test_lib_lm.py::test_mfu_is_six_n_t_over_time_and_peak"

# module name | file to mutate | the test files run against its mutants
MODULES="
engine|collapse_lib/engine.py|tests/test_lib_engine.py tests/test_lib_store.py tests/test_lib_policies.py
policies|collapse_lib/policies.py|tests/test_lib_policies.py tests/test_lib_engine.py
store|collapse_lib/store.py|tests/test_lib_store.py tests/test_lib_engine.py
runtime|collapse_lib/runtime.py|tests/test_lib_runtime.py tests/test_lib_pieces.py tests/test_gpu_paths.py::test_precision_follows_the_devices_capability
lm_train|collapse_lib/lm/train.py|tests/test_lib_runtime.py LM_TRAIN
theory_gaussian|collapse_lib/theory/gaussian.py|tests/test_lib_theory_exact.py tests/test_lib_theory.py
theory_categorical|collapse_lib/theory/categorical.py|tests/test_lib_theory_exact.py tests/test_lib_theory.py
theory_zipf|collapse_lib/theory/zipf.py|tests/test_lib_theory_exact.py tests/test_lib_theory.py
theory_linreg|collapse_lib/theory/linreg.py|tests/test_lib_theory_exact.py tests/test_lib_mixing.py
theory_gmm|collapse_lib/theory/gmm.py|tests/test_lib_theory_exact.py tests/test_lib_gmm.py
theory_random_features|collapse_lib/theory/random_features.py|tests/test_lib_larger.py
families_gaussian|collapse_lib/families/gaussian.py|tests/test_lib_engine.py tests/test_lib_pieces.py tests/test_lib_theory.py tests/test_lib_validation.py
families_categorical|collapse_lib/families/categorical.py|tests/test_lib_engine.py tests/test_lib_pieces.py tests/test_lib_theory.py tests/test_lib_validation.py
families_zipf|collapse_lib/families/zipf.py|tests/test_lib_theory.py tests/test_lib_theory_exact.py tests/test_lib_pieces.py tests/test_lib_validation.py
families_linreg|collapse_lib/families/linreg.py|tests/test_lib_mixing.py
families_gmm|collapse_lib/families/gmm.py|tests/test_lib_gmm.py
families_random_features|collapse_lib/families/random_features.py|tests/test_lib_larger.py
"

wanted=" $* "
summary=()
start_all=$SECONDS
while IFS='|' read -r name file tests; do
    [ -n "$name" ] || continue
    if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
    dir="$WORK/$name"
    t0=$SECONDS
    if [ -n "${MUTATION_RECHECK:-}" ] && [ -f "$dir/survivors.txt" ]; then
        names=$(awk '/: (survived|no tests)$/ {sub(":$", "", $1); print $1}' "$dir/survivors.txt")
        echo "== $name: rechecking $(echo "$names" | grep -c . || true) survivors against the current tests"
        for d in "$dir/tests" "$dir/mutants/tests"; do rm -rf "$d"; cp -r tests "$d"; done
        if [ -n "$names" ]; then
            # shellcheck disable=SC2086
            (cd "$dir" && nice -n 15 mutmut run --max-children "$JOBS" $names > recheck.log 2>&1) || {
                echo "mutation.sh: mutmut failed on $name; see $dir/recheck.log" >&2
                summary+=("$name: mutmut failed")
                continue
            }
        fi
    else
        rm -rf "$dir"
        mkdir -p "$dir"
        cp -r collapse_lib tests pyproject.toml "$dir"/
        if [ -n "${MUTATION_TESTS_REV:-}" ]; then
            rm -rf "$dir/tests"
            git archive "$MUTATION_TESTS_REV" tests | tar -x -C "$dir"
        fi
        find "$dir" -name __pycache__ -prune -exec rm -rf {} +
        {
            echo "[mutmut]"
            echo "source_paths = collapse_lib"
            echo "only_mutate = $file"
            echo "pytest_add_cli_args = -p no:cacheprovider -q"
            echo "pytest_add_cli_args_test_selection ="
            for t in ${tests//LM_TRAIN/$LM_TRAIN}; do
                if [ -e "$dir/${t%%::*}" ]; then echo "    $t"; fi  # a test file the commit lacks is left out
            done
        } > "$dir/setup.cfg"
        echo "== $name: mutating $file; tests: ${tests//LM_TRAIN/lm fine-tuning tests}"
        (cd "$dir" && nice -n 15 mutmut run --max-children "$JOBS" > run.log 2>&1) || {
            echo "mutation.sh: mutmut failed on $name; see $dir/run.log" >&2
            tail -20 "$dir/run.log" >&2
            summary+=("$name: mutmut failed")
            continue
        }
    fi
    (cd "$dir" && mutmut export-cicd-stats > /dev/null && mutmut results > survivors.txt)
    line=$(python - "$dir/mutants/mutmut-cicd-stats.json" "$name" "$((SECONDS - t0))" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
tested = s["total"] - s["skipped"]
killed = s["killed"] + s["timeout"]
print(f"{sys.argv[2]}: {killed}/{tested} killed ({100 * killed / max(tested, 1):.1f} %), "
      f"{s['survived']} survived, {s['no_tests']} without tests, {s['suspicious']} suspicious, {sys.argv[3]} s")
EOF
)
    echo "$line"
    summary+=("$line")
done <<< "$MODULES"

echo
echo "== mutation score by module (survivors in $WORK/<module>/survivors.txt; see tests/MUTANTS.md)"
printf '%s\n' "${summary[@]}"
echo "total time: $((SECONDS - start_all)) s"
