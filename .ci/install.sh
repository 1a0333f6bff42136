#!/usr/bin/env bash
# Creates .venv (once) and installs seed_brain with everything the recipe and
# the tests need. Idempotent: a second run only checks what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
stamp=.venv/.seed_brain_installed
if [ ! -f "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    # torch 2.11.0 + torchaudio 2.11.0 (torchaudio's last release pins it).
    .venv/bin/python -m pip install -q -e ".[test]"
    # The GE2E weights ship inside this wheel; its code is never imported
    # and its (heavy) dependencies are not needed: --no-deps.
    .venv/bin/python -m pip install -q --no-deps resemblyzer==0.1.4
    touch "$stamp"
fi
.venv/bin/python -c "import seed_brain, speechbrain, torchaudio; \
from seed_brain.lobes.ge2e import find_pretrained_ge2e; find_pretrained_ge2e()"
