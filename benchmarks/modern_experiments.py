"""Train the modern recurrences with rnnviz.fit: the adding problem at T = 1000, and parity with
eigenvalues in [0, 1] against [-1, 1].

    nice -n 10 python benchmarks/modern_experiments.py adding [--steps 1500] [--seeds 0,1,2]
        [--models rnn,mingru,lru_net] [--seq-len 1000] [--out benchmarks/modern_experiments.md]
    nice -n 10 python benchmarks/modern_experiments.py parity [--steps 2000] [--seq-len 32]
        [--models mingru,mingru_neg,s6,s6_neg,rnn]

Models (every one trained by rnnviz.fit: Adam, batch 50, gradient-norm clipping at 1, test set of
500 fixed sequences every 100 steps; model and data seeded with the same seed):
    rnn          tanh RNN, H = 64, PyTorch's default init (the Training Lab's classic cell)
    lstm         LSTM, H = 64, init "torch", forget bias 3
    mingru       one minGRU layer, H = 64, default nn.Linear init (Feng et al.), transitions in [0, 1]
    mingru_neg   the same with transitions in [-1, 1] (1 - 2z; Grazzi et al. 2024)
    minlstm(_neg), s6(_neg)  one minLSTM layer (H = 64) / one selective SSM (D = 16 channels, N = 4)
    lru          one LRU layer, N = 64 states, output 64 (a linear filter of the input)
    lru_net, mingru_net  rnnviz.modern.ModernNet: linear encoder to width 32, two residual blocks
                 u + GLU(W GELU(cell(LayerNorm u))) with N = 32 states per LRU (the papers' block); the
                 LRU with the ring's defaults (r_min 0.9, r_max 0.999, phases in [0, 2 pi])
    lru_net_long the same with the LRU paper's initialisation for long ranges: r_min 0.99, r_max 0.999,
                 phases in [0, pi/10]
The modern cells train with the parallel scan (--mode scan, the default) or the sequential loop
(--mode loop); both give the same numbers to 1e-5 (benchmarks/bench_scan.py times them).

Parity trains on rnnviz.tasks' parity sequences whose first T - L bits are set to 0, L uniform in
1..T (zeros do not change the parity, so this is parity of a random length up to T, as Grazzi et al.
train on lengths 3..40); it is tested on full-length sequences (the task's own test set) and, after
training, on 1000 sequences of length 256 (longer than any seen in training).

Success: adding, test MSE < 0.01 (baseline 1/6); parity, test accuracy >= 0.99 (baseline ln 2 nats).
Prints one line per run and rewrites a markdown table after each run.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz import modern, modern_trace  # noqa: E402
from rnnviz.tasks import Parity  # noqa: E402

BATCH, CLIP, TEST_SIZE, TEST_EVERY = 50, 1.0, 500, 100
LR = {"rnn": 1e-3, "lstm": 1e-3}   # the classic cells as in benchmarks/adding_repro.py; the others 3e-3
DEFAULT_LR = 3e-3
MODE = "scan"   # how the modern cells run in training: "scan" (parallel) or "loop"; --mode
SETTINGS = {"adding": dict(steps=1500, seq_len=1000, models="rnn,mingru,lru_net"),
            "parity": dict(steps=2000, seq_len=32, models="mingru,mingru_neg,s6,s6_neg,rnn")}


class ParityOfRandomLength(Parity):
    """Training batches: the last L bits random (L uniform in 1..T), zeros before; test: all T bits."""

    def batch(self, batch_size, seq_len, generator):
        bits = torch.randint(0, 2, (batch_size, seq_len), generator=generator)
        length = torch.randint(1, seq_len + 1, (batch_size, 1), generator=generator)
        bits = bits * (torch.arange(seq_len) >= seq_len - length)
        return bits[..., None].to(torch.float32), bits.sum(1) % 2

    def test_batch(self, batch_size, seq_len, generator):
        return Parity.batch(self, batch_size, seq_len, generator)


LONG = 256   # parity is also tested at this length after training


def make(name: str, input_size: int, seed: int):
    """(model or None for a classic cell, the spec fit gets)."""
    if name in ("rnn", "lstm"):
        return None, rnnviz.ModelSpec(cell=name, hidden_size=64, init="torch", seed=seed)
    base, _, neg = name.partition("_")
    knobs = {"negative": "negative"} if neg == "neg" else {}
    if neg.startswith("net"):
        if neg == "net_long":
            knobs = {"r_min": 0.99, "r_max": 0.999, "max_phase": math.pi / 10}
        model = modern.ModernNet(base, input_size, 32, layers=2, seed=seed, **knobs)
        for cell in model.cells:
            cell.mode = MODE
    elif base == "lru":
        model = modern.build("lru", input_size, 64, seed=seed, output_size=64)
    elif base == "s6":
        model = modern.build("s6", input_size, 16, seed=seed, d_state=4, **knobs)
    else:
        model = modern.build(base, input_size, 64, seed=seed, **knobs)
    model.mode = MODE
    return model, rnnviz.ModelSpec(hidden_size=model.hidden_size, seed=seed)


def run(task: str, name: str, seed: int, steps: int, seq_len: int) -> dict:
    task_obj = ParityOfRandomLength() if task == "parity" else rnnviz.tasks.get_task(task)
    model, spec = make(name, task_obj.input_size, seed)
    lr = LR.get(name, DEFAULT_LR)
    result = rnnviz.fit(spec, task_obj, seq_len, steps, batch_size=BATCH, lr=lr, clip=CLIP, seed=seed, model=model,
                        test_size=TEST_SIZE, test_every=TEST_EVERY, checkpoints=0)
    ok = result.test_loss < 0.01 if task == "adding" else result.test_accuracy >= 0.99
    hit = np.nonzero(ok)[0]
    long_accuracy = flips = None
    if task == "parity":
        x, y = Parity().batch(1000, LONG, torch.Generator().manual_seed(12345))
        with torch.no_grad():
            long_accuracy = task_obj.accuracy(result.readout(result.model(x)[0][:, -1]), y)
        if isinstance(result.model, modern.ModernCell):
            flips = eigenvalues_by_bit(result.model, result.probe)
    params = sum(p.numel() for p in result.model.parameters()) + sum(p.numel() for p in result.readout.parameters())
    return {"model": name, "seed": seed, "lr": lr, "params": params, "steps": result.steps_done,
            "test_steps": result.test_steps, "test_loss": result.test_loss, "accuracy": result.test_accuracy,
            "seconds": result.seconds, "first": int(result.test_steps[hit[0]]) if hit.size else None,
            "clipped": float(result.clipped.mean()) if result.steps_done else 0.0, "message": result.message,
            "long_accuracy": long_accuracy, "flips": flips}


def eigenvalues_by_bit(model, probe) -> tuple:
    """The trained transitions on the probe sequence: for the state unit whose transition on 1-bits is
    the most negative, its mean transition when it reads a 1 and when it reads a 0 (a parity counter
    needs -1 and +1)."""
    a = modern_trace.trace(model, probe).eigenvalue_trajectory.real
    ones = probe[:, 0] > 0.5
    on1, on0 = a[ones].mean(0), a[~ones].mean(0)
    j = int(np.argmin(on1))
    return float(on1[j]), float(on0[j])


def table(task: str, results: list, header: str) -> str:
    metric = "MSE" if task == "adding" else "loss (nats)"
    goal = "MSE < 0.01" if task == "adding" else "accuracy >= 0.99"
    long = f" accuracy at T = {LONG} |" if task == "parity" else ""
    lines = [header, "", f"| model | seed | params | lr | steps | final test {metric} | test accuracy |{long} "
             f"best test {metric} | first step with {goal} | steps clipped | time |",
             "|---|---|---|---|---|---|---|" + ("---|" if long else "") + "---|---|---|---|"]
    for r in results:
        first = r["first"] if r["first"] is not None else "never"
        lines.append(f"| {r['model']} | {r['seed']} | {r['params']} | {r['lr']:g} | {r['steps']} | "
                     f"{r['test_loss'][-1]:.4f} | {r['accuracy'][-1]:.3f} | "
                     + (f"{r['long_accuracy']:.3f} | " if long else "") + f"{r['test_loss'].min():.4f} | {first} | "
                     f"{100 * r['clipped']:.0f}% | {r['seconds'] / 60:.1f} min |"
                     + (f" {r['message']}" if r["message"] else ""))
    lines.append("")
    flips = [r for r in results if r.get("flips")]
    if flips:
        lines.append("Trained transitions on the test probe (the unit most negative on 1-bits): "
                     + "; ".join(f"{r['model']} seed {r['seed']}: a = {r['flips'][0]:+.3f} on a 1, "
                                 f"{r['flips'][1]:+.3f} on a 0" for r in flips))
        lines.append("")
    for name in dict.fromkeys(r["model"] for r in results):
        runs = [r for r in results if r["model"] == name]
        ok = sum(r["first"] is not None for r in runs)
        lines.append(f"- {name}: {ok}/{len(runs)} seeds reach {goal}; final test {metric} "
                     + ", ".join(f"{r['test_loss'][-1]:.4f}" for r in runs))
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(SETTINGS))
    parser.add_argument("--steps", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--models")
    parser.add_argument("--out")
    parser.add_argument("--mode", choices=("scan", "loop"), default=MODE)
    args = parser.parse_args()
    globals()["MODE"] = args.mode
    cfg = SETTINGS[args.task]
    steps, seq_len = args.steps or cfg["steps"], args.seq_len or cfg["seq_len"]
    models = (args.models or cfg["models"]).split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), f"modern_{args.task}.md")
    start = os.popen("uptime").read().strip()
    task = ParityOfRandomLength() if args.task == "parity" else rnnviz.tasks.get_task(args.task)
    _, y = task.test_batch(TEST_SIZE, seq_len, torch.Generator().manual_seed(rnnviz.train.TEST_SEED))
    baseline = ((y - 1.0) ** 2).mean().item() if args.task == "adding" else math.log(2.0)
    header = (f"{args.task}, T = {seq_len}, {steps} steps, batch {BATCH}, clip-norm {CLIP:g}, test set of {TEST_SIZE} "
              f"(every {TEST_EVERY} steps). Command: `nice -n 10 python benchmarks/modern_experiments.py {args.task} "
              f"--steps {steps} --seq-len {seq_len} --seeds {args.seeds} --models {','.join(models)} "
              f"--mode {args.mode}`. "
              f"Memoryless baseline on this test set: {baseline:.4f} "
              f"({'predict 1' if args.task == 'adding' else 'ln 2'}). "
              f"Started at: {start}")
    results = []
    for seed in seeds:
        for name in models:
            t0 = time.perf_counter()
            r = run(args.task, name, seed, steps, seq_len)
            results.append(r)
            print(f"{name} seed {seed}: final test loss {r['test_loss'][-1]:.4f}, accuracy {r['accuracy'][-1]:.3f}, "
                  f"first success {r['first']}, {time.perf_counter() - t0:.0f} s", flush=True)
            with open(out, "w") as f:
                f.write(table(args.task, results, header))
    print(table(args.task, results, header + f"\nFinished at: {os.popen('uptime').read().strip()}"))
    with open(out, "w") as f:
        f.write(table(args.task, results, header + f"\n\nFinished at: {os.popen('uptime').read().strip()}"))


if __name__ == "__main__":
    main()
