#!/usr/bin/env bash
# Renders an executed notebook the way a reader sees it: nbconvert → standalone HTML →
# headless Chromium screenshot (no network: the plotly.js bundle is embedded in the notebook's
# outputs by plotlyInit()). Use it to check that plots, spectrograms and audio players render.
#
#   bash scripts/screenshot-notebook.sh EXECUTED.ipynb OUT.png [HEIGHT_PX [SKIP_PX]]
#
# SKIP_PX shifts the page up by that many pixels (to look at a lower part of a long notebook
# without a huge image).
#
# The notebook must have outputs (execute it first, e.g. with
# `bash scripts/jupyter-kernel.sh nbconvert --to notebook --execute --output-dir /tmp/x notebooks/eda.ipynb`).
# Needs the Debian packages jupyter-nbconvert and chromium. Screenshots are not committed.
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 EXECUTED.ipynb OUT.png [HEIGHT_PX [SKIP_PX]]" >&2
  exit 2
fi
nb="$1"
png="$(realpath -m "$2")"
height="${3:-3000}"
skip="${4:-0}"
py="${FAT2019_PYTHON:-/usr/bin/python3}"
chromium="${CHROMIUM:-/usr/bin/chromium}"
[ -f "$nb" ] || { echo "error: $nb not found" >&2; exit 1; }
command -v "$chromium" >/dev/null || { echo "error: $chromium not found: sudo apt-get install -y chromium" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
PYTHONWARNINGS=ignore "$py" -m nbconvert --to html --output-dir "$tmp" --output page "$nb" >/dev/null 2>&1 \
  || { echo "error: nbconvert --to html $nb failed" >&2; exit 1; }
if [ "$skip" != "0" ]; then
  sed -i "s|</head>|<style>body{margin-top:-${skip}px !important}</style></head>|" "$tmp/page.html"
fi
# --virtual-time-budget lets the plot scripts (which poll for window.Plotly) finish before the shot.
"$chromium" --headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$tmp/profile" \
  --virtual-time-budget=15000 --window-size="1200,$height" --screenshot="$png" "file://$tmp/page.html" >/dev/null 2>&1 \
  || { echo "error: chromium could not render $tmp/page.html" >&2; exit 1; }
echo "$png ($(du -k "$png" | cut -f1) KB) from $nb"
