#!/usr/bin/env bash
# Registers the tslab TypeScript kernel for this checkout into <project>/.jupyter-local
# (gitignored; nothing is written to ~/.local) and runs Jupyter with that kernel visible.
#
#   bash scripts/jupyter-kernel.sh                       # register only; prints the JUPYTER_PATH line
#   bash scripts/jupyter-kernel.sh notebook notebooks/   # register, then `jupyter notebook notebooks/` (= npm run notebook)
#   bash scripts/jupyter-kernel.sh nbconvert --to html --execute notebooks/eda.ipynb
#
# Jupyter comes from Debian (the pyenv/conda python3 does not see it):
#   sudo apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel
# FAT2019_PYTHON overrides the Python that has Jupyter (default /usr/bin/python3).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${FAT2019_PYTHON:-/usr/bin/python3}"
tslab="$root/node_modules/.bin/tslab"

if ! "$py" -c 'import jupyter_client, IPython' >/dev/null 2>&1; then
  echo "error: $py has no Jupyter. Install the Debian packages:" >&2
  echo "  sudo apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel" >&2
  exit 1
fi
if [ ! -x "$tslab" ]; then
  echo "error: $tslab not found: run npm install first (tslab is a devDependency)" >&2
  exit 1
fi

"$tslab" install --python "$py" --binary "$tslab" --prefix "$root/.jupyter-local" >/dev/null
export JUPYTER_PATH="$root/.jupyter-local/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

if [ "$#" -eq 0 ]; then
  echo "tslab kernel \"TypeScript\" registered in $root/.jupyter-local"
  echo "use it with: export JUPYTER_PATH=$JUPYTER_PATH"
  exit 0
fi
exec "$py" -m jupyter "$@"
