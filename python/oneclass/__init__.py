"""oneclass: image anomaly detection trained on normal images only.

    import oneclass
    model = oneclass.load("runs/wood")            # a run folder of `oneclass run`
    model.score(images)                           # float64 [N], higher = more anomalous
    model.predict(images)                         # 1 = anomaly (score > model.threshold), 0 = normal
    model.anomaly_map(images)                     # float32 [N, H, W], detectors with maps

    detector = oneclass.Detector("knn", k=5).fit(X)   # X: normal images only
    detector.decision_function(X_new), detector.predict(X_new), detector.save("runs/knn")

    oneclass.run(dataset="mnist", normal=1, out="runs/demo")   # `oneclass run`'s flags as keywords
    oneclass.bench(datasets="mnist", models="knn", seeds="0", out="runs/b")
    oneclass.make_demo_data("runs/demo-data", categories="wood")
    oneclass.models()

Images are NumPy arrays: [H, W] one grey image, [N, H, W] grey images, [N, H, W, C] images of C
channels (1 grey, 3 RGB, 4 RGBA); uint8 (0..255) or float in [0, 1]. A list of such arrays may mix
sizes. A loaded run reads them as it read its training images (resized, cropped, converted), so
an image decoded from a file scores exactly as `oneclass score FILE` scores it.
"""

import json
import os

import numpy as np

from ._oneclass import Error, __version__, _fit, _Model, _models, _run_cli

__all__ = ["Error", "Model", "Detector", "load", "run", "bench", "make_demo_data", "models", "__version__"]


def _as_batch(images):
    """Images as one C-contiguous [N, H, W, C] uint8 or float32 array."""
    array = np.asarray(images)
    if array.ndim == 2:
        array = array[np.newaxis, :, :, np.newaxis]
    elif array.ndim == 3:  # [H, W, C] with C of 1 to 4 is one image; otherwise [N, H, W]
        array = array[np.newaxis] if array.shape[2] in (1, 2, 3, 4) else array[:, :, :, np.newaxis]
    elif array.ndim != 4:
        raise Error(f"images of shape {array.shape}: give [H, W], [N, H, W] or [N, H, W, C]")
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            raise Error(f"images of dtype {array.dtype}: give uint8 (0..255) or floats in [0, 1]")
        array = array.astype(np.float32, copy=False)
        if array.size and not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 1):
            raise Error("float images must lie in [0, 1] (divide 8-bit images by 255, or pass them as uint8)")
    return np.ascontiguousarray(array)


def _batches(images):
    """A list of arrays of different sizes is scored array by array."""
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], np.ndarray):
        return [_as_batch(image) for image in images]
    return [_as_batch(images)]


def _is_paths(images):
    if isinstance(images, (str, os.PathLike)):
        return True
    return isinstance(images, (list, tuple)) and bool(images) and all(isinstance(p, (str, os.PathLike)) for p in images)


class Model:
    """A trained run folder, opened for scoring (oneclass.load)."""

    def __init__(self, run_dir, device="auto"):
        self._model = _Model(os.fspath(run_dir), device)
        self.run_dir = os.fspath(run_dir)

    threshold = property(lambda self: self._model.threshold, doc="a score strictly above it is flagged")
    detector = property(lambda self: self._model.detector, doc="the detector's registry name")
    input_shape = property(lambda self: tuple(self._model.input_shape), doc="(C, H, W) the detector takes")
    has_maps = property(lambda self: self._model.has_maps, doc="whether anomaly_map is available")
    trained_on = property(lambda self: self._model.trained_on)
    config = property(lambda self: json.loads(self._model.config_json), doc="the run's config.json")
    metrics = property(lambda self: json.loads(self._model.metrics_json), doc="the run's metrics.json (or None)")

    def _score(self, images, with_maps):
        if _is_paths(images):
            paths = [os.fspath(images)] if isinstance(images, (str, os.PathLike)) else [os.fspath(p) for p in images]
            return self._model.score_files(paths, with_maps)
        parts = [self._model.score(batch, with_maps) for batch in _batches(images)]
        scores = np.concatenate([p[0] for p in parts])
        maps = np.concatenate([p[1] for p in parts]) if with_maps else None
        return scores, maps

    def score(self, images):
        """Anomaly scores, float64 [N]; higher = more anomalous. `images`: arrays, or image file paths."""
        return self._score(images, False)[0]

    def predict(self, images):
        """1 where the score is above the threshold (an anomaly), else 0."""
        return (self.score(images) > self.threshold).astype(np.int64)

    def anomaly_map(self, images):
        """Per-pixel anomaly maps, float32 [N, H, W] at the detector's input size."""
        return self._score(images, True)[1]

    def __repr__(self):
        return f"oneclass.Model({self.run_dir!r}: {self.detector} on {self.trained_on}, threshold {self.threshold:.4g})"


def load(run_dir, device="auto"):
    """Opens a run folder written by `oneclass run` or Detector.save."""
    return Model(run_dir, device)


def models():
    """The registered detectors: name, description, default options, scores, semi_supervised."""
    listed = []
    for entry in _models():
        entry = dict(entry)
        entry["options"] = json.loads(entry.pop("options_json"))
        listed.append(entry)
    return listed


class Detector:
    """A detector trained on arrays of normal images, in the manner of PyOD and scikit-learn.

    Detector("knn", k=5): the detector's options as keywords (oneclass.models() lists them).
    fit(X) holds out `val_fraction` of X (seeded), trains on the rest and sets the threshold on
    the held-out images at the false-alarm rate `target_fpr`, as `oneclass run` does.
    """

    def __init__(self, model="knn", *, seed=0, val_fraction=0.1, target_fpr=0.01, device="auto", progress=False,
                 **options):
        self.model = model
        self.options = options
        self.seed = seed
        self.val_fraction = val_fraction
        self.target_fpr = target_fpr
        self.device = device
        self.progress = progress
        self._fitted = None

    def fit(self, X, y=None):
        """Trains on X, normal images only (y is ignored, as in PyOD)."""
        batch = _as_batch(X)
        self._fitted = _fit(batch, self.model, json.dumps(self.options), int(self.seed), float(self.val_fraction),
                            float(self.target_fpr), self.device, bool(self.progress))
        return self

    def _require_fitted(self):
        if self._fitted is None:
            raise Error(f"this {self.model} Detector is not fitted yet; call fit(X) first")
        return self._fitted

    @property
    def threshold_(self):
        return self._require_fitted().threshold

    @property
    def metrics_(self):
        return json.loads(self._require_fitted().metrics_json)

    def decision_function(self, X):
        """Anomaly scores, float64 [N]; higher = more anomalous."""
        return self._require_fitted().score(_as_batch(X), False)[0]

    def anomaly_map(self, X):
        return self._require_fitted().score(_as_batch(X), True)[1]

    def predict(self, X):
        """1 where the score is above the calibrated threshold (an anomaly), else 0."""
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def save(self, run_dir, overwrite=False):
        """Writes a run folder that oneclass.load, `oneclass score` and `oneclass serve` open."""
        self._require_fitted().save(os.fspath(run_dir), bool(overwrite))
        return self

    def __repr__(self):
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"oneclass.Detector({self.model!r}{options})"


_NEGATED_FLAGS = {"progress": "--no-progress", "figures": "--no-figures", "download": "--no-download"}


def _command_line(command, options):
    """Keyword arguments as the command's flags: out="x" -> --out x, overwrite=True -> --overwrite,
    progress=False -> --no-progress, option={"k": 5} -> -o k=5, a list -> comma-separated."""
    args = [command]
    for key, value in options.items():
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "option":
            for name, setting in value.items():
                args += ["-o", f"{name}={json.dumps(setting) if not isinstance(setting, str) else setting}"]
        elif isinstance(value, bool):
            if value and key not in _NEGATED_FLAGS:
                args.append(flag)
            elif not value and key in _NEGATED_FLAGS:
                args.append(_NEGATED_FLAGS[key])
            elif not value:
                continue
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def make_demo_data(folder, **options):
    """`oneclass make-demo-data FOLDER` with its flags as keywords (categories="wood", size=64, ...)."""
    code = _run_cli(_command_line("make-demo-data", options) + [os.fspath(folder)])
    if code != 0:
        raise Error(f"oneclass make-demo-data failed (exit code {code})")


def run(**options):
    """`oneclass run` with its flags as keywords; returns the run's metrics.json as a dict."""
    code = _run_cli(_command_line("run", options))
    if code != 0:
        raise Error(f"oneclass run failed (exit code {code})")
    with open(os.path.join(options.get("out", "runs/latest"), "metrics.json")) as f:
        return json.load(f)


def bench(**options):
    """`oneclass bench` with its flags as keywords; returns its results.json as a dict."""
    code = _run_cli(_command_line("bench", options))
    path = os.path.join(options.get("out", "runs/bench"), "results.json")
    if code != 0:
        raise Error(f"oneclass bench did not finish every job (exit code {code}); see {path}")
    with open(path) as f:
        return json.load(f)
