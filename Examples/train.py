#!/usr/bin/env python3
"""A pretend training run: log lines, a tqdm-style progress bar redrawn in place, an evaluation per epoch.

It runs for about three minutes; --speed 10 makes it ten times faster, --epochs changes its length,
--fail-at N makes it crash in epoch N (exit status 1), to see how a failure looks.

    tailcast run --job train-42 -- python3 Examples/train.py --speed 5

The bar is drawn the way tqdm draws `tqdm(range(steps), desc=f"epoch {epoch}/{epochs}")`:
`epoch 4/6:  37%|███▋      | 111/300 [00:02<00:03, 49.80it/s, loss=1.2345]`. On a terminal it is
redrawn in place after a carriage return; into a pipe a line is printed at every tenth of an epoch.
"""
import argparse
import math
import random
import sys
import time

BAR_CELLS = 10
PARTIAL_BLOCKS = " ▏▎▍▌▋▊▉"


def interval(seconds):
    """tqdm's format_interval: MM:SS, or H:MM:SS from an hour on."""
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def bar(desc, step, steps, elapsed, postfix):
    """One tqdm bar: `desc: pct%|blocks| n/total [elapsed<remaining, rate, postfix]`."""
    fraction = step / steps
    eighths = int(fraction * BAR_CELLS * 8)
    full, partial = divmod(eighths, 8)
    blocks = "█" * full + (PARTIAL_BLOCKS[partial] if full < BAR_CELLS else "")
    rate = step / elapsed if step and elapsed > 0 else None
    remaining = interval((steps - step) / rate) if rate else "?"
    rate_text = f"{rate:5.2f}it/s" if rate else "?it/s"
    return (f"{desc}: {100 * fraction:3.0f}%|{blocks:<{BAR_CELLS}}| {step}/{steps} "
            f"[{interval(elapsed)}<{remaining}, {rate_text}, {postfix}]")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=300, help="steps per epoch")
    parser.add_argument("--speed", type=float, default=1.0, help="speed-up factor")
    parser.add_argument("--fail-at", type=int, default=0, help="crash in this epoch")
    args = parser.parse_args()

    rng = random.Random(42)
    step_time = 0.1 / args.speed
    tty = sys.stdout.isatty()
    log = lambda message: print(f"{time.strftime('%H:%M:%S')} INFO  {message}", flush=True)
    log(f"starting run: {args.epochs} epochs x {args.steps} steps, lr=3e-4, batch=64")
    loss = 2.5
    for epoch in range(1, args.epochs + 1):
        desc = f"epoch {epoch}/{args.epochs}"
        start = time.monotonic()
        line = bar(desc, 0, args.steps, 0, f"loss={loss:.4f}")
        if tty:
            print("\r" + line, end="", flush=True)
        for step in range(1, args.steps + 1):
            time.sleep(step_time)
            loss = max(0.05, loss * 0.9985 + rng.uniform(-0.01, 0.01))
            if args.fail_at == epoch and step == args.steps // 2:
                print(flush=True)
                print(f"{time.strftime('%H:%M:%S')} ERROR CUDA out of memory at step {step}", file=sys.stderr, flush=True)
                sys.exit(1)
            line = bar(desc, step, args.steps, time.monotonic() - start, f"loss={loss:.4f}")
            if tty:
                print("\r" + line, end="", flush=True)
            elif step % max(1, args.steps // 10) == 0:
                print(line, flush=True)
            if step % 100 == 0 and step < args.steps:
                message = f"epoch {epoch} step {step} loss {loss:.4f} grad_norm {rng.uniform(0.5, 2):.3f}"
                if tty:  # as tqdm.write does: clear the bar, print the message, draw the bar again
                    print("\r" + " " * len(line) + "\r", end="")
                    log(message)
                    print("\r" + line, end="", flush=True)
                else:
                    log(message)
        if tty:
            print()  # leave=True: the finished bar stays
        accuracy = 1 - math.exp(-epoch / 2) * 0.6 + rng.uniform(-0.01, 0.01)
        log(f"epoch {epoch} done: val_loss {loss * 1.1:.4f} val_acc {accuracy:.4f}; checkpoint saved to ckpt/epoch-{epoch}.pt")
    log("training finished")


if __name__ == "__main__":
    main()
