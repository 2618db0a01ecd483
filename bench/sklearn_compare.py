#!/usr/bin/python3
"""The classical detectors of oneclass against scikit-learn, on the same task on the same machine.

    /usr/bin/python3 bench/sklearn_compare.py [--oneclass build/bin/oneclass] [--classes 0,1,...] [--out FILE]

Task: MNIST, one class normal: train on 90 % of that class's training images (pixels in [0, 1]),
score the full test set, AUROC with the other nine classes as anomalies. oneclass runs as a user
runs it, `oneclass run` (through its launcher, which tunes the BLAS threads), and holds out its own
seeded 10 % (it sets its threshold on them, which its time includes); scikit-learn is given a seeded
90 % drawn here, so the two train on sets of the same size that differ in about a tenth of their
images. Time: fit + score in seconds, data loading and start-up excluded: oneclass's train_seconds +
score_seconds from its metrics.json, scikit-learn's wall time around fit and scoring. Each uses the
whole machine as it does by default (oneclass: LibTorch's threads, one per core; scikit-learn:
NumPy's OpenBLAS threads). Pairs, with settings fixed in advance as oneclass's defaults:
    knn      k = 1, Euclidean              NearestNeighbors(n_neighbors=1, algorithm="brute")
    ocsvm    nu = 0.1, gamma = "scale"      OneClassSVM(nu=0.1, gamma="scale")
    iforest  100 trees of 256 samples       IsolationForest(n_estimators=100, max_samples=256)
    pca      90 % of the variance           PCA(n_components=0.9), squared reconstruction error
Prints one row per detector and class, then the totals, with the versions and thread counts.
"""
import argparse
import gzip
import json
import os
import platform
import struct
import subprocess
import tempfile
import time

import numpy as np
import sklearn
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.svm import OneClassSVM


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, count * rows * cols, 16).reshape(count, rows, cols)
    return np.frombuffer(data, np.uint8, count, 8).astype(np.int64)


def mnist_file(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{name}(.gz) not in {folder}: set ONECLASS_DATA_DIR to the folder that holds mnist/")


def load_mnist():
    folder = os.path.join(os.environ.get("ONECLASS_DATA_DIR", os.path.expanduser("~/.cache/oneclass")), "mnist")
    train = read_idx(mnist_file(folder, "train-images-idx3-ubyte")), read_idx(mnist_file(folder, "train-labels-idx1-ubyte"))
    test = read_idx(mnist_file(folder, "t10k-images-idx3-ubyte")), read_idx(mnist_file(folder, "t10k-labels-idx1-ubyte"))
    return train, test


def sklearn_scores(model, train, test):
    x, t = train.reshape(len(train), -1), test.reshape(len(test), -1)
    if model == "knn":
        return NearestNeighbors(n_neighbors=1, algorithm="brute").fit(x).kneighbors(t)[0][:, 0]
    if model == "ocsvm":
        return -OneClassSVM(nu=0.1, gamma="scale").fit(x).decision_function(t)
    if model == "iforest":
        return -IsolationForest(n_estimators=100, max_samples=256, random_state=0).fit(x).score_samples(t)
    if model == "pca":
        pca = PCA(n_components=0.9).fit(x)
        return ((t - pca.inverse_transform(pca.transform(t))) ** 2).sum(axis=1)
    raise ValueError(model)


def oneclass_run(program, model, digit, scratch):
    """(AUROC, fit + score seconds) of `oneclass run` on MNIST with `digit` normal."""
    out = os.path.join(scratch, f"{model}-{digit}")
    subprocess.run([program, "run", "--dataset", "mnist", "--normal", str(digit), "--model", model, "--no-figures",
                    "--no-progress", "--no-download", "--out", out, "--overwrite"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.json")) as f:
        metrics = json.load(f)
    return metrics["auroc"], metrics["train_seconds"] + metrics["score_seconds"]


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--oneclass", default="build/bin/oneclass", help="the oneclass program")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--models", default="knn,ocsvm,iforest,pca")
    parser.add_argument("--out", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    (train_images, train_labels), (test_images, test_labels) = load_mnist()
    test = test_images.astype(np.float32) / 255
    print(f"machine: {platform.node()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
          f"scikit-learn {sklearn.__version__}, NumPy {np.__version__}; "
          f"threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print(f"{'model':8} {'class':>5} {'oneclass s':>11} {'sklearn s':>10} {'speed-up':>8} {'oneclass AUROC':>15} {'sklearn AUROC':>14}")
    print(subprocess.run([args.oneclass, "--version"], check=True, capture_output=True, text=True).stdout.strip())
    rows = []
    scratch = tempfile.TemporaryDirectory(prefix="oneclass_sklearn_")
    for model in args.models.split(","):
        for digit in (int(c) for c in args.classes.split(",")):
            own = train_images[train_labels == digit].astype(np.float32) / 255
            keep = np.sort(np.random.default_rng(digit).permutation(len(own))[: int(0.9 * len(own))])
            anomalous = (test_labels != digit).astype(np.int64)
            ours_auroc, ours_s = oneclass_run(args.oneclass, model, digit, scratch.name)
            theirs, theirs_s = timed(sklearn_scores, model, own[keep], test)
            row = {"model": model, "class": digit, "oneclass_seconds": ours_s, "sklearn_seconds": theirs_s,
                   "oneclass_auroc": ours_auroc, "sklearn_auroc": roc_auc_score(anomalous, theirs)}
            rows.append(row)
            print(f"{model:8} {digit:5d} {ours_s:11.2f} {theirs_s:10.2f} {theirs_s / ours_s:7.2f}x "
                  f"{row['oneclass_auroc']:15.4f} {row['sklearn_auroc']:14.4f}", flush=True)
    for model in args.models.split(","):
        mine = [r for r in rows if r["model"] == model]
        ours, theirs = sum(r["oneclass_seconds"] for r in mine), sum(r["sklearn_seconds"] for r in mine)
        print(f"{model:8} {'all':>5} {ours:11.2f} {theirs:10.2f} {theirs / ours:7.2f}x "
              f"{np.mean([r['oneclass_auroc'] for r in mine]):15.4f} {np.mean([r['sklearn_auroc'] for r in mine]):14.4f}")
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            json.dump({"rows": rows, "sklearn": sklearn.__version__, "numpy": np.__version__}, f, indent=1)
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
