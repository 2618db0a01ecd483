"""The Python package against the command-line program: the same scores, to the last bit.

Run by CTest (python_package) with PYTHONPATH=<build>/python and ONECLASS_CLI=<build>/bin/oneclass.
"""
import csv
import os
import subprocess
import threading

import numpy as np
import pytest

import oneclass

CLI = os.environ.get("ONECLASS_CLI", "oneclass")


def squares(n, side=28, channels=1, seed=0, crosses=False):
    """uint8 [n, side, side, channels]: a bright square on noise; with crosses, a bright cross too."""
    rng = np.random.default_rng(seed)
    images = (rng.random((n, side, side, channels)) * 25).astype(np.uint8)
    for i in range(n):
        at = 4 + i % 4
        images[i, at:at + side // 2, at:at + side // 2] = 230
        if crosses:
            images[i, side // 2 - 1:side // 2 + 1, :] = 255
            images[i, :, side // 2 - 1:side // 2 + 1] = 255
    return images


def write_pnm(path, image):
    """Binary PGM (grey) or PPM (RGB): a file stb_image and OpenCV both read."""
    height, width, channels = image.shape
    with open(path, "wb") as f:
        f.write(b"P%d\n%d %d\n255\n" % (5 if channels == 1 else 6, width, height))
        f.write(np.ascontiguousarray(image).tobytes())


def cli_scores(run_dir, paths, tmp_path):
    out = tmp_path / "scored.csv"
    subprocess.run([CLI, "score", str(run_dir), *map(str, paths), "--output", str(out)], check=True,
                   capture_output=True)
    with open(out) as f:
        return [float(row["score"]) for row in csv.DictReader(f)]


@pytest.mark.parametrize("model,channels,side,options", [("knn", 1, 28, {"k": 3}), ("mlp-ae", 3, 32, {"epochs": 2})])
def test_detector_scores_as_the_cli(tmp_path, model, channels, side, options):
    X = squares(60, side, channels)
    detector = oneclass.Detector(model, **options).fit(X)
    test = np.concatenate([squares(4, side, channels, seed=1), squares(4, side, channels, seed=2, crosses=True)])
    scores = detector.decision_function(test)
    assert scores.dtype == np.float64 and scores.shape == (8,)
    assert scores[4:].min() > scores[:4].max(), "every cross scores above every normal image"
    assert list(detector.predict(test[4:])) == [1, 1, 1, 1]

    run_dir = tmp_path / "run"
    detector.save(run_dir)
    loaded = oneclass.load(run_dir)
    assert loaded.threshold == detector.threshold_
    assert loaded.input_shape == (channels, side, side)
    np.testing.assert_array_equal(loaded.score(test), scores)  # exactly, not approximately

    files = []
    for i, image in enumerate(test):
        files.append(tmp_path / f"image{i}.{'pgm' if channels == 1 else 'ppm'}")
        write_pnm(files[-1], image)
    assert cli_scores(run_dir, files, tmp_path) == list(scores), "the CLI reads the files to the same scores"
    assert list(loaded.score([str(f) for f in files])) == list(scores), "file paths score as arrays"


def test_maps_and_float_images(tmp_path):
    X = squares(40, 32, 3)
    detector = oneclass.Detector("mlp-ae", epochs=1).fit(X)
    maps = detector.anomaly_map(X[:3])
    assert maps.shape == (3, 32, 32) and maps.dtype == np.float32 and (maps >= 0).all()
    detector.save(tmp_path / "run")
    model = oneclass.load(tmp_path / "run")
    np.testing.assert_array_equal(model.anomaly_map(X[:3]), maps)
    # Floats in [0, 1] are taken as they are; other sizes are resized as the run reads images.
    assert model.score(X[:2].astype(np.float32) / 255).shape == (2,)
    assert model.score([squares(1, 64, 3)[0], squares(1, 48, 3)[0]]).shape == (2,)


def test_errors_carry_the_library_messages(tmp_path):
    with pytest.raises(oneclass.Error, match="no such folder"):
        oneclass.load(tmp_path / "missing")
    with pytest.raises(oneclass.Error, match="not fitted yet"):
        oneclass.Detector("knn").decision_function(squares(1))
    with pytest.raises(oneclass.Error, match=r"\[0, 1\]"):
        oneclass.Detector("knn").fit(squares(10).astype(np.float32))
    with pytest.raises(oneclass.Error, match="unknown"):
        oneclass.Detector("no-such-detector").fit(squares(10))
    detector = oneclass.Detector("knn").fit(squares(20))
    with pytest.raises(oneclass.Error, match="fitted on 28x28x1"):
        detector.decision_function(squares(2, side=32))
    with pytest.raises(oneclass.Error, match="--val-fraction"):
        oneclass.run(dataset="mnist", val_fraction=2, out=str(tmp_path / "r"))


def test_run_bench_and_models(tmp_path):
    names = [m["name"] for m in oneclass.models()]
    assert "patch-knn" in names and "knn" in names
    demo = tmp_path / "demo"
    oneclass.make_demo_data(demo, categories="wood", size=64, train=12, good_test=3, defects=2)
    metrics = oneclass.run(dataset="folder", data=str(demo), model="patch-knn", image_size=32,
                           out=str(tmp_path / "run"), progress=False, figures=False, threads=1)
    assert metrics["model"] == "patch-knn" and 0 <= metrics["auroc"] <= 1
    model = oneclass.load(tmp_path / "run")
    assert model.trained_on.startswith("folder") and model.has_maps
    results = oneclass.bench(datasets=f"folder:{demo}", models="knn", seeds="0", image_size=32,
                             out=str(tmp_path / "bench"), progress=False)
    assert results["rows"], results


def test_scoring_releases_the_gil(tmp_path):
    """Two Python threads scoring with one model at once get the scores one thread gets."""
    detector = oneclass.Detector("knn").fit(squares(40))
    detector.save(tmp_path / "run")
    model = oneclass.load(tmp_path / "run")
    images = squares(30, seed=3)
    alone = model.score(images)
    results = [None, None]

    def work(i):
        results[i] = model.score(images)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, alone)
