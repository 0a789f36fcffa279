"""Reproduce the adding problem result: LSTM and GRU learn it, the tanh RNN stays at the baseline.

    python benchmarks/adding_repro.py [--steps 4000] [--seeds 0,1,2] [--cells gru,lstm,rnn]
                                      [--out benchmarks/adding_repro.md]

Setting (Arjovsky et al. 2016's adding problem, as in the issue): T = 50, H = 64, PyTorch's default
initialisation (ModelSpec init="torch"), Adam lr 1e-3, batch 50, gradient-norm clipping at 1, test
MSE on a fixed set of 1000 sequences every 100 steps; model and data seeded with the same seed.
The memoryless baseline (predict 1) is 1/6 = 0.1667. Expected from calibration runs on this kind of
machine (one seed): GRU about 0.0099 at 1000 steps, LSTM about 0.004 at 3500, tanh RNN about 0.155
at 4000. Success here means test MSE < 0.01 within the steps run.

Prints one line per run as it finishes and writes a markdown table (rewritten after every run,
so a long run can be read while it goes).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnviz  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process

T, H, LR, BATCH, CLIP, TEST_SIZE, TEST_EVERY, SUCCESS = 50, 64, 1e-3, 50, 1.0, 1000, 100, 0.01
NAMES = {"gru": "GRU", "lstm": "LSTM", "rnn": "tanh RNN"}


def run(cell: str, seed: int, steps: int) -> dict:
    spec = rnnviz.ModelSpec(cell=cell, hidden_size=H, init="torch", seed=seed)
    result = rnnviz.fit(spec, "adding", T, steps, batch_size=BATCH, lr=LR, clip=CLIP, seed=seed,
                        test_size=TEST_SIZE, test_every=TEST_EVERY)
    test_steps, test_loss = result.test_steps, result.test_loss
    below = np.nonzero(test_loss < SUCCESS)[0]
    return {"cell": cell, "seed": seed, "steps": test_steps, "mse": test_loss, "seconds": result.seconds,
            "first_success": int(test_steps[below[0]]) if below.size else None,
            "clipped": float(result.clipped.mean()), "message": result.message}


def mse_at(r: dict, step: int) -> str:
    hit = np.nonzero(r["steps"] == step)[0]
    return f"{r['mse'][hit[0]]:.4f}" if hit.size else "-"


def table(results: list, steps: int) -> str:
    marks = [m for m in (1000, 2000, 3000, 3500, 4000) if m <= steps] or [steps]
    if steps not in marks:
        marks.append(steps)
    lines = ["| cell | seed | " + " | ".join(f"test MSE @ {m}" for m in marks)
             + f" | best | first step < {SUCCESS} | steps clipped | time |",
             "|---|---|" + "---|" * len(marks) + "---|---|---|---|"]
    for r in results:
        first = r["first_success"] if r["first_success"] is not None else "never"
        lines.append(f"| {NAMES[r['cell']]} | {r['seed']} | " + " | ".join(mse_at(r, m) for m in marks)
                     + f" | {r['mse'].min():.4f} | {first} | {100 * r['clipped']:.0f}% | {r['seconds'] / 60:.1f} min |")
    lines.append("")
    for cell in dict.fromkeys(r["cell"] for r in results):
        runs = [r for r in results if r["cell"] == cell]
        ok = sum(r["first_success"] is not None for r in runs)
        finals = ", ".join(f"{r['mse'][-1]:.4f}" for r in runs)
        lines.append(f"- {NAMES[cell]}: {ok}/{len(runs)} seeds reach test MSE < {SUCCESS} within {steps} steps; "
                     f"final test MSE {finals} (baseline 1/6 = 0.1667).")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--cells", default="gru,lstm,rnn")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "adding_repro.md"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    header = (f"Adding problem, T = {T}, H = {H}, init \"torch\", Adam lr {LR:g}, batch {BATCH}, clip-norm {CLIP:g}, "
              f"test MSE on {TEST_SIZE} fixed sequences (every {TEST_EVERY} steps); model and data seed = seed. "
              f"torch {torch.__version__}, {torch.get_num_threads()} thread. "
              f"Command: `python benchmarks/adding_repro.py --steps {args.steps} --seeds {args.seeds} "
              f"--cells {args.cells}`\n\n")
    print(header, flush=True)
    rnnviz.warm_up()
    results = []
    start = time.perf_counter()
    for cell in args.cells.split(","):
        for seed in seeds:
            r = run(cell, seed, args.steps)
            results.append(r)
            marks = " ".join(f"@{m}={mse_at(r, m)}" for m in (1000, 2000, 3000, 4000) if m <= args.steps)
            print(f"{NAMES[cell]:8} seed {seed}: {marks} best {r['mse'].min():.4f} first<{SUCCESS}: "
                  f"{r['first_success']}  ({r['seconds']:.0f} s) {r['message']}", flush=True)
            with open(args.out, "w") as f:
                f.write(header + table(results, args.steps))
    print()
    print(table(results, args.steps))
    print(f"total {(time.perf_counter() - start) / 60:.1f} min; table written to {args.out}")


if __name__ == "__main__":
    main()
