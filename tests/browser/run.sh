#!/usr/bin/env bash
# The service's page in a real headless browser:
#   run.sh BUILD_DIR SCRATCH_DIR
# trains a small run on demo data, starts `oneclass serve` (with a token) on a free port, then
# page_test.mjs (playwright-core driving Debian's Chromium) uploads a defect image and reads the
# verdict, then uploads a text file and reads the error. Exits 77 (CTest: skipped) with the reason
# printed when node, Chromium or playwright-core is missing (scripts/install-deps.sh installs them).
set -euo pipefail
build=$1 scratch=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "SKIP: node is not installed (apt-get install nodejs npm)"; exit 77; }
chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "SKIP: no Chromium at $chromium (apt-get install chromium)"; exit 77; }
[ -d "$here/node_modules/playwright-core" ] ||
  { echo "SKIP: playwright-core is not installed (npm install --prefix tests/browser)"; exit 77; }

rm -rf "$scratch" && mkdir -p "$scratch"
oneclass="$build/bin/oneclass"
"$oneclass" make-demo-data "$scratch/demo" --categories wood --size 96 --train 16 --good-test 2 --defects 2 >/dev/null
"$oneclass" run --dataset folder --data "$scratch/demo" --image-size 64 --model patch-knn --out "$scratch/run" \
            --no-progress --no-figures --threads 1 >/dev/null
head -c 24 /dev/urandom | base64 >"$scratch/token"
"$oneclass" serve "$scratch/run" --port 0 --token-file "$scratch/token" >"$scratch/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$scratch/serve.log")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || { cat "$scratch/serve.log"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "the service printed no address"; cat "$scratch/serve.log"; exit 1; }
url="http://127.0.0.1:$port/?token=$(cat "$scratch/token" | sed 's/+/%2B/g; s/\//%2F/g; s/=/%3D/g')"
defect=$(find "$scratch/demo/wood/test" -path '*/good/*' -prune -o -name '*.png' -print | sort | head -n 1)
CHROMIUM="$chromium" node "$here/page_test.mjs" "$url" "$defect" "$scratch/page.png" any
echo "not an image" >"$scratch/notes.txt"
EXPECT_ERROR=1 CHROMIUM="$chromium" node "$here/page_test.mjs" "$url" "$scratch/notes.txt" "$scratch/error.png"
echo "browser: page loaded, image scored, verdict read, error shown; screenshot $scratch/page.png"
