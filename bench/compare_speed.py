#!/usr/bin/env python3
"""Reports of bench_detectors (Google Benchmark JSON) as Markdown tables.

    bench/compare_speed.py BEFORE.json AFTER.json   side by side: one row per detector and image
                                                    size, training and scoring images/s before and
                                                    after, and the ratios
    bench/compare_speed.py REPORT.json              one report: one row per detector, training and
                                                    scoring images/s at both sizes; where the report
                                                    also timed the convolutional detectors on
                                                    LibTorch's kernels (rows ending kernels:libtorch),
                                                    those against oneclass's own, side by side
Then the revision, LibTorch, BLAS and threads of each report.
"""
import json
import re
import sys


def rates(path, kernels=""):
    """Images/s by (model, side) of the rows run on `kernels` ("" for the default, oneclass's own)."""
    with open(path) as f:
        report = json.load(f)
    table = {}
    for run in report["benchmarks"]:
        if run.get("run_type") != "iteration" or run.get("error_occurred"):
            continue
        match = re.match(r"BM_(Train|Score)/([^/]+)/side:(\d+)(?:/kernels:(\w+))?", run["name"])
        if not match or (match.group(4) or "") != kernels:
            continue
        kind, model, side = match.groups()[:3]
        counter = "train_images_per_s" if kind == "Train" else "images_per_s"
        table.setdefault((model, int(side)), {})[kind] = run[counter]
    return report["context"], table


def number(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def cell(before, after):
    if before is None or after is None:
        return " | | "
    return f"{number(before)} | {number(after)} | {after / before:.2f}x"


def describe(name, context):
    print(f"\n{name}revision {context.get('revision')}, LibTorch {context.get('libtorch')}, {context.get('blas')} "
          f"({context.get('blas_kernels')} kernels, {context.get('blas_threads')} thread), {context.get('threads')} "
          f"LibTorch threads, {context.get('num_cpus')} x {context.get('mhz_per_cpu')} MHz, tuned: {context.get('tuned')}")


def one_report(path):
    context, table = rates(path)
    print("| detector | train 28×28 | score 28×28 | train 256×256×3 | score 256×256×3 |")
    print("|---|---:|---:|---:|---:|")
    for model in dict.fromkeys(model for model, _ in table):
        small, large = table.get((model, 28), {}), table.get((model, 256), {})
        cells = [number(r[k]) if k in r else "" for r in (small, large) for k in ("Train", "Score")]
        print(f"| `{model}` | " + " | ".join(cells) + " |")
    _, libtorch = rates(path, "libtorch")
    if libtorch:
        print("\nLibTorch's kernels (before) against oneclass's own (after), same run:\n")
        side_by_side(libtorch, {key: table.get(key, {}) for key in libtorch})
    describe("", context)


def side_by_side(old, new):
    print("| detector | size | train img/s before | after | ratio | score img/s before | after | ratio |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for key in sorted(new, key=lambda k: k[1]):  # by size; sorted() keeps the report's order within one
        model, side = key
        size = "28x28x1" if side == 28 else f"{side}x{side}x3"
        o, n = old.get(key, {}), new[key]
        print(f"| {model} | {size} | {cell(o.get('Train'), n.get('Train'))} | {cell(o.get('Score'), n.get('Score'))} |")


def main():
    if len(sys.argv) == 2:
        return one_report(sys.argv[1])
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (old_context, old), (new_context, new) = rates(sys.argv[1]), rates(sys.argv[2])
    side_by_side(old, new)
    for name, context in (("before: ", old_context), ("after: ", new_context)):
        describe(name, context)


if __name__ == "__main__":
    main()
