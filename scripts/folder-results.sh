#!/usr/bin/env bash
# The demo inspection set's table in docs/results.md: every detector that reads folder data, on
# every category of `oneclass make-demo-data` (seed 0, 256 x 256), one thread per run. Each run's
# metrics.json is kept in docs/results/demo-folder/<model>/<category>.json and the table is printed
# from those files.
#   scripts/folder-results.sh BUILD_DIR [MODELS...]
# ONECLASS_BIN=path/to/oneclass runs another binary than BUILD_DIR's (a frozen copy, so that a
# rebuild during the runs does not change the revision they record).
set -euo pipefail
build=${1:-build}
shift || true
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(patch-knn pca knn kde ocsvm iforest mlp-ae conv-ae vae memae arnet deep-svdd geom ensemble ganomaly anovaegan egbad f-anogan anogan)
oneclass="${ONECLASS_BIN:-$build/bin/oneclass}"
data=runs/demo-data
kept=docs/results/demo-folder
[ -d "$data" ] || "$oneclass" make-demo-data "$data" --seed 0
mkdir -p "$kept" runs/demo-folder
for model in "${models[@]}"; do
  for category in gravel leather marble wood; do
    out=runs/demo-folder/$model/$category
    "$oneclass" run --dataset folder --data "$data" --category "$category" --model "$model" --threads 1 \
      --out "$out" --overwrite --no-progress --no-figures >/dev/null 2>>runs/demo-folder/warnings.log
    mkdir -p "$kept/$model"
    cp "$out/metrics.json" "$kept/$model/$category.json"
    echo "$model / $category done"
  done
done
python3 - "$kept" <<'PY'
import json, os, sys
root = sys.argv[1]
def cell(v, scale=100):
    return "—" if v is None else f"{v * scale:.1f}"
def health(m):  # GAN detectors record whether their training collapsed; the others have no record
    h = m.get("training_health")
    return "" if h is None else ("ok" if h.get("ok") else "flagged")
print("| detector | category | image AUROC | pixel AUROC | AUPRO (0.3) | train s | score s | training |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
for model in sorted(os.listdir(root)):
    rows = []
    for name in sorted(os.listdir(os.path.join(root, model))):
        m = json.load(open(os.path.join(root, model, name)))
        rows.append(m)
        print(f"| `{model}` | {m['category']} | {cell(m['auroc'])} | {cell(m.get('pixel_auroc'))} | "
              f"{cell(m.get('aupro'))} | {m['train_seconds']:.1f} | {m['score_seconds']:.1f} | {health(m)} |")
    mean = lambda k: None if any(r.get(k) is None for r in rows) else sum(r[k] for r in rows) / len(rows)
    print(f"| `{model}` | **mean** | **{cell(mean('auroc'))}** | **{cell(mean('pixel_auroc'))}** | "
          f"**{cell(mean('aupro'))}** | {sum(r['train_seconds'] for r in rows):.1f} | "
          f"{sum(r['score_seconds'] for r in rows):.1f} | |")
PY
