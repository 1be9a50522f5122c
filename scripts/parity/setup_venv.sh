#!/usr/bin/env bash
# Build the authors' environment for one model: setup_venv.sh miras|lisa VENV_DIR
# The venv is separate from pixelrs's; only its python runs the authors' code. Pins: requirements-*.txt.
set -euo pipefail
model=${1:?usage: setup_venv.sh miras|lisa VENV_DIR}
venv=${2:?usage: setup_venv.sh miras|lisa VENV_DIR}
here=$(cd "$(dirname "$0")" && pwd)
req="$here/requirements-$model.txt"
[ -f "$req" ] || { echo "setup_venv.sh: unknown model '$model' (miras or lisa)" >&2; exit 2; }
python3.11 -m venv "$venv" 2>/dev/null || python3 -m venv "$venv"
export PIP_CONSTRAINT=""   # a machine-wide constraints file must not move the authors' pins
pip="$venv/bin/python -m pip install --progress-bar off"
# torch first: deepspeed's setup imports it, so deepspeed is built without build isolation.
$pip "$(grep -E '^torch==' "$req")" "$(grep -E '^torchvision==' "$req")"
grep -v -E '^(torch|torchvision|deepspeed)==' "$req" | grep -v -E '^\s*(#|$)' > "$venv/requirements-rest.txt"
$pip -r "$venv/requirements-rest.txt"
if grep -q -E '^deepspeed==' "$req"; then
  DS_BUILD_OPS=0 $pip --no-build-isolation "$(grep -E '^deepspeed==' "$req")"
fi
"$venv/bin/python" -m pip freeze > "$venv/pip-freeze.txt"
echo "authors' environment for $model ready in $venv"
