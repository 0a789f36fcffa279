"""Binary addition with the Training Lab's suggested settings: does every cell learn it, at every seed?

    python benchmarks/binary_addition.py                       # RNN, LSTM, GRU at seeds 0-4
    python benchmarks/binary_addition.py --cells gru --seeds 0,1 --set train_steps=600

Each cell is trained with `rnnviz.fit` exactly as the Training Lab's "Use the suggested settings"
button sets it up (`rnnviz.labs.training.Settings.suggested`), then evaluated on all 65,536 pairs of 8-bit numbers
(8 steps, sum mod 256): a pair counts only if every bit of the sum is right. Also checked: the
page's worked example (task sample 0 at the training length). Prints a Markdown table: cell x seed
-> exact-sum accuracy on the 8-bit pairs, the worked example, training steps and seconds.
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
from rnnviz.labs import training as lab  # noqa: E402


def all_pairs(bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """x [4^bits, bits, 2] (a and b, least-significant bit first) and a + b mod 2^bits."""
    n = np.arange(2 ** bits)
    a, b = np.repeat(n, n.size), np.tile(n, n.size)
    shifts = np.arange(bits)
    x = np.stack([(a[:, None] >> shifts) & 1, (b[:, None] >> shifts) & 1], -1).astype(np.float32)
    return x, (a + b) % (2 ** bits)


def exact_sum_accuracy(result, bits: int = 8) -> float:
    """Fraction of all pairs of `bits`-bit numbers whose every sum bit the model predicts right."""
    x, total = all_pairs(bits)
    with torch.no_grad():
        h, _ = result.model(torch.from_numpy(x))
        predicted = result.readout(h).argmax(-1).numpy()
    value = (predicted << np.arange(bits)).sum(1)
    return float((value == total).mean())


def _parse_set(items: list[str]) -> dict:
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        out[name] = type(lab.suggested("binary_addition").values.get(name, value))(value)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--set", nargs="*", default=[], help="override a suggested knob: name=value")
    args = parser.parse_args()
    overrides = _parse_set(args.set)
    torch.set_num_threads(1)
    base = lab.Settings.suggested("binary_addition", **overrides)
    print(f"Binary addition, suggested settings{' with ' + ', '.join(args.set) if args.set else ''}: "
          f"T = {base.seq_len}, H = {base.hidden_size}, {base.steps} steps, batch {base.batch_size}, "
          f"Adam lr {base.lr:g}, clip {base.clip} {base.clip_threshold:g}. torch {torch.__version__}, 1 thread.")
    print("Exact sum: all 65,536 pairs of 8-bit numbers, every bit right. Example: the Training Lab's worked "
          "example (task sample 0).\n")
    print("| cell | seed | exact sums (8-bit pairs) | worked example | steps | seconds |")
    print("|---|---|---|---|---|---|")
    failures = 0
    for cell in args.cells.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            settings = base.replace(cells=(cell,), seed=seed)
            t0 = time.perf_counter()
            result = rnnviz.fit(settings.spec(cell), **settings.fit_kwargs())
            seconds = time.perf_counter() - t0
            acc = exact_sum_accuracy(result)
            ex = lab.addition_example(result, seed=0)
            shown = f"{ex.value(ex.predicted)} for {ex.value(ex.total)}"
            failures += acc < 1.0 or not ex.correct.all()
            print(f"| {settings.cell_label(cell)} | {seed} | {acc:.2%} ({round(acc * 65536)}) | {shown} "
                  f"| {result.steps_done} | {seconds:.1f} |", flush=True)
    print(f"\n{failures} run(s) short of 100% or with a wrong worked example.")


if __name__ == "__main__":
    main()
