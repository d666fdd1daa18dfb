#!/usr/bin/env bash
# Create .venv and install emo_lobes (editable) with torch, SpeechBrain and the test/baseline/plot extras.
# Run: bash tools/setup_env.sh        (idempotent: a second run with nothing changed takes seconds)
# Env: EMO_LOBES_VENV (default .venv), EMO_LOBES_TORCH (torch requirement, default torch==2.13.0),
#      PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EMO_LOBES_VENV:-.venv}"
PY="${PYTHON:-python3}"
TORCH_SPEC="${EMO_LOBES_TORCH:-torch==2.13.0}"
TORCHAUDIO_SPEC="${EMO_LOBES_TORCHAUDIO:-torchaudio==2.11.0}"
STAMP="$VENV/.emo_lobes_setup"
want="$(cat setup.py tools/setup_env.sh | sha256sum | cut -c1-16) $TORCH_SPEC $TORCHAUDIO_SPEC"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
   && "$VENV/bin/python" -c "import emo_lobes, speechbrain, torchaudio" 2>/dev/null; then
  echo "[setup] $VENV is up to date"
  exit 0
fi

echo "[setup] creating $VENV"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# pip, quiet, without the notes a local package mirror prints for every package it does not hold
pip_install() {
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither" >&2)
}

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "[setup] NVIDIA GPU found: installing torch/torchaudio with CUDA"
  pip_install torch torchaudio
else
  echo "[setup] no GPU: installing the CPU build $TORCH_SPEC"
  pip_install "$TORCH_SPEC"
  # torchaudio on PyPI is CUDA-linked; installed without deps so it cannot pull a CUDA torch.
  pip_install --no-deps "$TORCHAUDIO_SPEC"
fi

echo "[setup] installing emo_lobes (editable) with extras baselines, plots, test"
pip_install -e ".[baselines,plots,test]"
"$VENV/bin/python" -c "import emo_lobes" || { echo "[setup] ERROR: emo_lobes did not install"; exit 1; }
# pyAudioAnalysis's short-term features (LanguageMTL's Section 6.2 setting): without deps, since its metadata pins
# numpy 1.20, scipy 1.6 and more that would replace ours; ShortTermFeatures needs only numpy, scipy, matplotlib, tqdm.
pip_install --no-deps "pyAudioAnalysis==0.3.14"

# The torchaudio fix: on a CPU-only torch, torchaudio's compiled extension fails to load; removing it leaves
# the pure-PyTorch functions SpeechBrain needs (resample, spectrograms). Only when torch is a CPU build.
if [ "$("$VENV/bin/python" -c 'import torch; print(torch.version.cuda is None)')" = "True" ]; then
  ta_lib="$("$VENV/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("torchaudio")
print(os.path.join(os.path.dirname(spec.origin), "lib"))
PY
)"
  if ls "$ta_lib"/*.so >/dev/null 2>&1; then
    echo "[setup] CPU torch: removing torchaudio's CUDA-linked extension ($ta_lib/*.so)"
    rm -f "$ta_lib"/*.so
  fi
fi
"$VENV/bin/python" -c "import speechbrain, torchaudio, emo_lobes; print('[setup] ok: speechbrain', speechbrain.__version__)"
echo "$want" > "$STAMP"
