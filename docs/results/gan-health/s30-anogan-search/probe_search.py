# The logs beside this file were written by it at 4ab2c70 (build/python of that revision), run from
# /work/exp/s30 with absolute paths (only the paths differ here), the two classes at once, with the
# default threads (OMP_NUM_THREADS unset); other thread settings give slightly different scores.
"""Label-free probe: does anogan's latent search converge at 100 steps on held-out NORMAL training
images? Trains anogan (defaults) on 90 % of one MNIST class's training images, then scores the
other 10 % with search_steps in STEPS. No test image is read; the training labels only pick the class.
Run from the repository root after `make` (the Python module in build/python):
  /usr/bin/python3 docs/results/gan-health/s30-anogan-search/probe_search.py 8 > class8.log"""
import gzip, json, os, shutil, sys, time
import numpy as np
sys.path.insert(0, os.environ.get("ONECLASS_PYTHON", "build/python"))
import oneclass

digit = int(sys.argv[1]); out = f"runs/probe-search-ag{digit}"
STEPS = [25, 100, 200, 500]

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]; shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)

images = idx(os.environ.get("ONECLASS_DATA_DIR", "../shared/data") + "/mnist/train-images-idx3-ubyte.gz")
labels = idx(os.environ.get("ONECLASS_DATA_DIR", "../shared/data") + "/mnist/train-labels-idx1-ubyte.gz")
normal = images[labels == digit]
order = np.random.default_rng(1234).permutation(len(normal))
held = normal[order[: len(normal) // 10]]
train = normal[order[len(normal) // 10:]]
scores = {}
health = None
for steps in STEPS:
    t = time.time()
    det = oneclass.Detector("anogan", search_steps=steps).fit(train)
    fit = time.time() - t
    h = json.dumps([det.metrics_["final_loss"], det.metrics_["epochs"]])
    if health is None: health = h
    assert h == health, "training differs between fits"
    t = time.time()
    s = det.decision_function(held)
    dt = time.time() - t
    scores[steps] = s
    print(f"steps {steps:4d}: fit {fit:.0f} s; held-out mean {s.mean():.3f} median {np.median(s):.3f}; {1000 * dt / len(held):.1f} ms/image", flush=True)
from scipy.stats import spearmanr
ref = scores[STEPS[-1]]
for steps in STEPS:
    print(f"steps {steps:4d}: mean / mean@500 = {scores[steps].mean() / ref.mean():.3f}; Spearman vs 500 = {spearmanr(scores[steps], ref)[0]:.3f}")
np.savez(f"{out}-scores.npz", **{str(k): v for k, v in scores.items()})
