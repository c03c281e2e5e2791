#!/usr/bin/env bash
# Creates the reference virtualenv used by tools/reference/*.py to write test fixtures.
#   SANA_REF_VENV=/path/to/venv tools/reference/make_venv.sh   (default: <repo>/.venv-ref)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "${here}/../.." && pwd)"
venv="${SANA_REF_VENV:-${repo}/.venv-ref}"
python="${PYTHON:-python3}"

if [[ -x "${venv}/bin/python" ]]; then
  echo "reference venv already exists: ${venv}"
else
  "${python}" -m venv "${venv}"
fi
"${venv}/bin/python" -m pip install --upgrade pip
"${venv}/bin/python" -m pip install -r "${here}/requirements.txt"
"${venv}/bin/python" -c "import torch, diffusers, transformers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'transformers', transformers.__version__)"
