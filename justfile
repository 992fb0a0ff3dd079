# meco_lab tasks. `just --list` explains each one.

python := env_var_or_default("PYTHON", "python")

# List the recipes
default:
    @just --list

# Install torch's CPU wheel first, then meco_lab (editable) with its dev tools and Ray (the tests start a Ray cluster)
install:
    {{python}} -m pip install torch==2.13.0
    {{python}} -m pip install -e ".[dev,ray]"

# Score NATS-Bench TSS with a proxy (default: MeCo, all 15,625 archs, 2 workers) and print the rho table
score *ARGS:
    {{python}} -m meco_lab.score workers=2 {{ARGS}}

# Run a named sweep from sweeps/ (e.g. `just sweep ablation-n profile=quick sweep.workers=2`)
sweep NAME *ARGS:
    {{python}} -m meco_lab.sweep {{NAME}} {{ARGS}}

# Rewrite a sweep's report.md and plots (add --wandb to publish a W&B Report when online)
report DIR *ARGS:
    {{python}} -m meco_lab.report {{DIR}} {{ARGS}}

# The paper's TSS numbers (Tables 1, 3, 5, 12): run the sweeps, compare, write docs/paper.md (with a profile: outputs/)
paper PROFILE="":
    {{python}} -m meco_lab.sweep random-vs-real sweep.workers=2 {{ if PROFILE != "" { "profile=" + PROFILE } else { "" } }}
    {{python}} -m meco_lab.sweep ablation-n sweep.workers=2 {{ if PROFILE != "" { "profile=" + PROFILE } else { "" } }}
    {{python}} -m meco_lab.sweep seeds sweep.workers=2 {{ if PROFILE != "" { "profile=" + PROFILE } else { "" } }}
    {{python}} -m meco_lab.reproduce {{ if PROFILE != "" { "--profile " + PROFILE + " --out outputs/paper-" + PROFILE + ".md" } else { "" } }}

# The paper's Tables 2 and 8-11: the transnas and benchmarks sweeps (hours on a CPU; `quick` to check), then compare
paper-benchmarks PROFILE="":
    {{python}} -m meco_lab.sweep transnas sweep.workers=2 {{ if PROFILE != "" { "profile=" + PROFILE } else { "" } }}
    {{python}} -m meco_lab.sweep benchmarks sweep.workers=2 {{ if PROFILE != "" { "profile=" + PROFILE } else { "" } }}
    {{python}} -m meco_lab.reproduce {{ if PROFILE != "" { "--profile " + PROFILE + " --out outputs/paper-" + PROFILE + ".md" } else { "" } }}

# Rank a space by proxy score and report the top-k's benchmark accuracy (writes selection.json)
search *ARGS:
    {{python}} -m meco_lab.search {{ARGS}}

# Retrain architectures with Lightning (e.g. `just retrain arch=best profile=smoke`)
retrain *ARGS:
    {{python}} -m meco_lab.retrain {{ARGS}}

# NB201 training throughput (images/s) under the nb201 protocol on this machine
bench-train *ARGS:
    {{python}} benchmarks/bench_train.py {{ARGS}}

# Run the test suite (the command CI runs)
test *ARGS:
    {{python}} -m pytest {{ARGS}}

# Lint with ruff, and check the package's layer contract (import-linter, docs/architecture.md)
lint:
    ruff check src tests scripts benchmarks
    lint-imports

# Reference re-implementation vs engine on 200 TSS archs: throughputs and their ratio
bench *ARGS:
    {{python}} benchmarks/bench_engine.py {{ARGS}}

# Rebuild the built-in ground-truth table and input sample from ../shared/data
build-data shared="../shared/data":
    {{python}} scripts/build_ground_truth.py {{shared}}
    {{python}} scripts/build_inputs_sample.py --images {{shared}}/images
