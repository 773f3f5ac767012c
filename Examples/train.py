#!/usr/bin/env python3
"""A pretend training run: log lines, a progress bar redrawn in place, an evaluation per epoch.

It runs for about three minutes; --speed 10 makes it ten times faster, --epochs changes its length,
--fail-at N makes it crash in epoch N (exit status 1), to see how a failure looks.

    tailcast run --job train-42 -- python3 Examples/train.py --speed 5
"""
import argparse
import math
import random
import sys
import time


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
        start = time.monotonic()
        for step in range(1, args.steps + 1):
            time.sleep(step_time)
            loss = max(0.05, loss * 0.9985 + rng.uniform(-0.01, 0.01))
            if args.fail_at == epoch and step == args.steps // 2:
                print(flush=True)
                print(f"{time.strftime('%H:%M:%S')} ERROR CUDA out of memory at step {step}", file=sys.stderr, flush=True)
                sys.exit(1)
            elapsed = time.monotonic() - start
            rate = step / elapsed if elapsed > 0 else 0
            eta = (args.steps - step) / rate if rate else 0
            filled = int(30 * step / args.steps)
            bar = f"epoch {epoch}/{args.epochs}: {100 * step // args.steps:3d}%|{'#' * filled}{' ' * (30 - filled)}| {step}/{args.steps} [{elapsed:4.0f}s<{eta:4.0f}s, {rate:5.1f}it/s, loss={loss:.4f}]"
            if tty:
                print("\r" + bar, end="", flush=True)
            elif step % max(1, args.steps // 10) == 0:
                print(bar, flush=True)
            if step % 100 == 0:
                if tty:
                    print()
                log(f"epoch {epoch} step {step} loss {loss:.4f} grad_norm {rng.uniform(0.5, 2):.3f}")
        if tty:
            print()
        accuracy = 1 - math.exp(-epoch / 2) * 0.6 + rng.uniform(-0.01, 0.01)
        log(f"epoch {epoch} done: val_loss {loss * 1.1:.4f} val_acc {accuracy:.4f}; checkpoint saved to ckpt/epoch-{epoch}.pt")
    log("training finished")


if __name__ == "__main__":
    main()
