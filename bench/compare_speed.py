#!/usr/bin/env python3
"""Side by side: two reports of bench_detectors (Google Benchmark JSON), as a Markdown table.

    bench/compare_speed.py BEFORE.json AFTER.json

One row per detector and image size: training images/s and scoring images/s before and after, and
the ratio; then the revision, LibTorch, BLAS and threads of each report.
"""
import json
import re
import sys


def rates(path):
    with open(path) as f:
        report = json.load(f)
    table = {}
    for run in report["benchmarks"]:
        if run.get("run_type") != "iteration" or run.get("error_occurred"):
            continue
        match = re.match(r"BM_(Train|Score)/([^/]+)/side:(\d+)", run["name"])
        if not match:
            continue
        kind, model, side = match.groups()
        counter = "train_images_per_s" if kind == "Train" else "images_per_s"
        table.setdefault((model, int(side)), {})[kind] = run[counter]
    return report["context"], table


def number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def cell(before, after):
    if before is None or after is None:
        return " | | "
    return f"{number(before)} | {number(after)} | {after / before:.2f}x"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (old_context, old), (new_context, new) = rates(sys.argv[1]), rates(sys.argv[2])
    print("| detector | size | train img/s before | after | ratio | score img/s before | after | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key in sorted(new, key=lambda k: (k[1], list(new).index(k))):
        model, side = key
        size = "28x28x1" if side == 28 else f"{side}x{side}x3"
        o, n = old.get(key, {}), new[key]
        print(f"| {model} | {size} | {cell(o.get('Train'), n.get('Train'))} | {cell(o.get('Score'), n.get('Score'))} |")
    for name, context in (("before", old_context), ("after", new_context)):
        print(f"\n{name}: revision {context.get('revision')}, LibTorch {context.get('libtorch')}, {context.get('blas')} "
              f"({context.get('blas_kernels')} kernels, {context.get('blas_threads')} thread), {context.get('threads')} "
              f"LibTorch threads, {context.get('num_cpus')} x {context.get('mhz_per_cpu')} MHz, tuned: {context.get('tuned')}")


if __name__ == "__main__":
    main()
