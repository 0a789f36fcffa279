"""Bits per character of a character language model against wall-clock training time.

    python benchmarks/bench_textlm.py [--seconds 60] [--cell lstm] [--hidden 128] [--corpus zen]

Trains `rnnviz.fit` on a `rnnviz.labs.charlm.CharTask` (the Text lab's settings unless overridden) until
`--seconds` of wall-clock time have passed (a StopTraining from on_step, as the page's Stop button
does), and prints the curve: elapsed seconds, training step, training bits per character (mean
over the last 20 batches), held-out bits per character (fit's test set: windows of the held-out
last tenth of the corpus). Then the whole training text and the held-out text read in one pass
each, and when each curve first went below --target (2.5 bits: the Text lab issue's goal for an
LSTM with H = 128 on the Zen of Python in 60 s). The load average is printed before and after:
the machine's other work slows training down.
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
from rnnviz.labs import charlm, corpora  # noqa: E402
from rnnviz.spec import KNOBS  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process


def main() -> None:
    d = {name: KNOBS[name].default for name in ("lm_seq_len", "lm_batch", "lm_lr")}
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--corpus", default="zen", choices=["zen", "stdlib"])
    ap.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--seq-len", type=int, default=d["lm_seq_len"])
    ap.add_argument("--batch", type=int, default=d["lm_batch"])
    ap.add_argument("--lr", type=float, default=d["lm_lr"])
    ap.add_argument("--clip", type=float, default=charlm.CLIP)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=float, default=5.0, help="print a row every this many seconds")
    ap.add_argument("--target", type=float, default=2.5)
    a = ap.parse_args()

    rnnviz.warm_up()
    corpus = corpora.get_corpus(a.corpus)
    task = charlm.CharTask(corpus)
    spec = charlm.lm_spec(a.cell, a.hidden, a.seed)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}  ({os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()})")
    print(f"{corpus.title}: {len(corpus.train_text)} training + {len(corpus.held_out_text)} held-out characters, "
          f"{len(task.vocab)} distinct; unigram entropy {charlm.bpc(task.baseline(0)):.3f} bits")
    print(f"{a.cell.upper()} H={a.hidden} init={spec.init} forget bias {spec.forget_bias:g}; seq_len {a.seq_len}, "
          f"batch {a.batch}, Adam lr {a.lr:g}, clip {a.clip:g}, {a.seconds:g} s\n")
    print(f"{'time s':>7} {'step':>6} {'train bpc':>10} {'held-out bpc':>13}")
    first = {"train": None, "held-out": None}
    next_print = [0.0]

    def on_step(info: rnnviz.StepInfo):
        train_bpc = charlm.bpc(float(np.mean(info.result.loss[-20:])))
        test_bpc = charlm.bpc(info.test_loss) if info.test_loss is not None else float("nan")
        for name, value in (("train", train_bpc), ("held-out", test_bpc)):
            if first[name] is None and value < a.target:
                first[name] = (info.elapsed, info.step)
        if info.elapsed >= next_print[0]:
            print(f"{info.elapsed:7.1f} {info.step:6d} {train_bpc:10.3f} {test_bpc:13.3f}", flush=True)
            next_print[0] += a.every
        if info.elapsed >= a.seconds:
            raise rnnviz.StopTraining(f"{a.seconds:g} s are up")

    t0 = time.perf_counter()
    result = rnnviz.fit(spec, task, seq_len=a.seq_len, steps=10**6, batch_size=a.batch, lr=a.lr, clip=a.clip,
                        seed=a.seed, on_step=on_step, **charlm.FIT_RECORDS)
    wall = time.perf_counter() - t0
    lm = charlm.CharLM.from_fit(result)
    print(f"{result.seconds:7.1f} {result.steps_done:6d} {charlm.bpc(float(np.mean(result.loss[-20:]))):10.3f} "
          f"{charlm.bpc(result.final_test_loss):13.3f}   (end: {result.message})")
    print(f"\nsteps: {result.steps_done} in {wall:.1f} s ({1000 * wall / max(result.steps_done, 1):.1f} ms per step)")
    print(f"whole training text, one pass: {lm.bits_per_char(corpus.train_text):.3f} bpc; "
          f"held-out text, one pass: {lm.bits_per_char(corpus.held_out_text):.3f} bpc")
    for name, hit in first.items():
        print(f"{name} below {a.target:g} bpc: " + (f"after {hit[0]:.1f} s (step {hit[1]})" if hit else "never"))
    print(f"held-out minimum: {charlm.bpc(float(np.min(result.test_loss))):.3f} bpc at step "
          f"{int(result.test_steps[np.argmin(result.test_loss)])}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("\nsample (temperature 0.5, seed 0): " + repr(lm.sample("Beautiful", 120, temperature=0.5, seed=0).text))


if __name__ == "__main__":
    main()
