#!/usr/bin/python3
"""Latency of one image through the Python package, per run folder:
    PYTHONPATH=build/python bench/python_latency.py --image IMAGE [--repeats 50] RUN_DIR...
Times Model.score on the decoded image array (uint8 [1, H, W, 3]; resized and converted as the
run reads images, inside the timing), after 3 warm-up calls; prints a Markdown table."""
import argparse
import statistics
import time

import numpy as np

import oneclass


def read_png_rgb(path):
    """The image as RGB pixels (PIL, python3-pil: the package itself takes arrays or file paths)."""
    from PIL import Image  # python3-pil
    return np.asarray(Image.open(path).convert("RGB"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image", required=True)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    image = read_png_rgb(args.image)[np.newaxis]
    print(f"oneclass {oneclass.__version__}; image {args.image} {image.shape[2]}x{image.shape[1]}")
    print("| run | detector | Python p50 ms | Python p90 ms | file path p50 ms |")
    print("|---|---|---|---|---|")
    for run in args.runs:
        model = oneclass.load(run)
        timings = {}
        for name, source in (("array", image), ("path", [args.image])):
            ms = []
            for i in range(args.repeats + 3):
                start = time.perf_counter()
                model.score(source)
                if i >= 3:
                    ms.append((time.perf_counter() - start) * 1000)
            ms.sort()
            timings[name] = (statistics.median(ms), ms[int(0.9 * len(ms))])
        print(f"| {run} | {model.detector} | {timings['array'][0]:.2f} | {timings['array'][1]:.2f} | "
              f"{timings['path'][0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
