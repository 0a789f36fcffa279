"""Time per training step of rnnviz.fit against a plain torch training loop, in the same run.

    python benchmarks/bench_train.py [--steps 1000] [--cells lstm]

The plain loop is what one would write by hand: torch.nn.LSTM (batch_first) + nn.Linear, Adam,
clip_grad_norm_, on the same adding-problem batches (the task's generator, batch 50, T = 50,
H = 64, lr 1e-3, clip 1), starting from the same weights.

The two are interleaved step by step, so that the noise of a shared machine hits both alike: fit's
on_step callback runs one step of the plain loop and times it, and fit's own step is the time
between callbacks minus that. fit runs twice: with its records off (test_size=0, checkpoints=0:
the training step alone, which also records the loss, the gradient norm before and after clipping
and keeps a copy of the last finite parameters) and with its defaults (a 1000-sequence test set
evaluated every 100 steps and 20 gradient-reach checkpoints). Reported: the median step (the
typical cost) and the mean (everything, periodic evaluations included).
Target (the Training lab issue): fit within 1.25x of the plain loop.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import rnnviz  # noqa: E402
from rnnviz.tasks import TASKS  # noqa: E402

rnnviz.configure(threads=1)  # as the app runs: one intra-op thread per process

T, H, BATCH, LR, CLIP = 50, 64, 50, 1e-3, 1.0


class PlainLoop:
    """The hand-written reference: torch module, Linear readout, Adam, norm clipping."""

    def __init__(self, spec: rnnviz.ModelSpec):
        self.task = TASKS["adding"]
        self.rnn = rnnviz.build_model(spec.replace(input_size=self.task.input_size)).to_torch()
        self.readout = rnnviz.train.make_readout(spec, self.task.output_size)
        self.params = list(self.rnn.parameters()) + list(self.readout.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=LR)
        self.generator = torch.Generator().manual_seed(0)

    def step(self) -> None:
        x, y = self.task.batch(BATCH, T, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        out, _ = self.rnn(x)
        loss = nn.functional.mse_loss(self.readout(out[:, -1]), y)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, CLIP)
        self.optimizer.step()


def interleaved(spec: rnnviz.ModelSpec, steps: int, records: bool):
    """Per-step times (fit, plain) with one plain step run inside each of fit's callbacks."""
    plain = PlainLoop(spec)
    fit_times, plain_times = [], []
    clock = [0.0]

    def on_step(info):
        t0 = time.perf_counter()
        fit_times.append(t0 - clock[0])
        plain.step()
        t1 = time.perf_counter()
        plain_times.append(t1 - t0)
        clock[0] = t1

    extra = {} if records else dict(test_size=0, checkpoints=0)
    clock[0] = time.perf_counter()
    rnnviz.fit(spec, "adding", T, steps, batch_size=BATCH, lr=LR, clip=CLIP, on_step=on_step, **extra)
    return fit_times, plain_times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps per run")
    parser.add_argument("--cells", default="lstm", help="comma-separated: rnn,lstm,gru")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread(s); adding problem T={T}, H={H}, "
          f"batch {BATCH}, Adam lr {LR}, clip-norm {CLIP}; {args.steps} interleaved steps per run")
    rnnviz.warm_up()
    for cell in args.cells.split(","):
        spec = rnnviz.ModelSpec(cell=cell, hidden_size=H, init="torch", seed=0)
        interleaved(spec, 20, records=True)  # warm-up
        print(cell.upper())
        for records in (False, True):
            fit_times, plain_times = interleaved(spec, args.steps, records)
            # the first fit "step" also holds fit's set-up (model, test set, step-0 evaluation)
            f_med, p_med = statistics.median(fit_times), statistics.median(plain_times)
            f_mean, p_mean = statistics.fmean(fit_times), statistics.fmean(plain_times)
            label = "fit, defaults    " if records else "fit, records off "
            print(f"  {label}: median {f_med * 1e3:6.2f} ms/step vs plain {p_med * 1e3:6.2f}: "
                  f"ratio {f_med / p_med:5.3f}x"
                  f" | mean {f_mean * 1e3:6.2f} vs {p_mean * 1e3:6.2f}: ratio {f_mean / p_mean:5.3f}x"
                  f"  (target <= 1.25x)")


if __name__ == "__main__":
    main()
