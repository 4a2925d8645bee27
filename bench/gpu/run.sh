#!/usr/bin/env bash
# GPU checks for a lent GPU machine (no package registry there): a CUDA build of lpengine, the
# GPU tests, and the benches with their CUDA columns. Results land in $OUT (default ./gpu-results).
#
# Prepare on a machine with PyPI (the GPU image has Python 3.12, numpy, torch, cmake and ninja;
# not these), about 45 MB:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     -d .whl scikit-build-core pathspec pybind11 av coincurve safe-pysha3 cryptography cffi \
#     pycparser pytest pluggy iniconfig hypothesis sortedcontainers attrs
# then run with carry=[".whl"]:  bash bench/gpu/run.sh
set -uo pipefail
OUT=${OUT:-$PWD/gpu-results}
mkdir -p "$OUT"
PY=${PY:-python3}
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
if [ -d .whl ]; then
  $PY -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl >"$OUT/deps.log" 2>&1
  export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
# One architecture keeps the build short; LPENGINE_CUDA=ON fails loudly without a toolkit.
export LPENGINE_CUDA=ON LPENGINE_CUDA_ARCHS=${LPENGINE_CUDA_ARCHS:-90-real}
$PY -m pip install -q --no-build-isolation --no-deps --no-index --target /tmp/lpengine . \
  >"$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; exit 1; }
export PYTHONPATH=/tmp/lpengine:$PYTHONPATH
$PY -c "import lpengine, json; print(json.dumps(lpengine.compiled_features()))" | tee "$OUT/features.json"
# The op tests only: the server tests need grpc, the SDK and more that the image lacks.
$PY -m pytest -p no:cacheprovider -rs -q tests/ops tests/test_native.py >"$OUT/gpu-tests.txt" 2>&1
tests=$?
tail -5 "$OUT/gpu-tests.txt"
for b in bench_resize bench_convert; do
  $PY -m bench.ops.$b --iterations 100 | tee "$OUT/$b.jsonl"
done
# Transcoding: which encoder each codec gets (NVENC where it really encodes; an H100 has none),
# the session tests, and the ladder bench when the image has the ffmpeg CLI to compare with.
$PY -c "from lpengine import hardware; from lpengine.media import codecs
print({c.name: e for c, e in codecs.probe(hardware.detect()).encoders.items()})" | tee "$OUT/encoders.txt"
$PY -m pytest -p no:cacheprovider -q tests/media/test_session.py >"$OUT/media-tests.txt" 2>&1 || tests=1
if command -v ffmpeg >/dev/null; then
  $PY -m bench.pipelines.bench_transcode --iterations 3 | tee "$OUT/bench_transcode.jsonl"
fi
# Batch AI (#7): the image has torch; diffusers, transformers and Pillow it may lack, and then
# bench_ai prints a "skipped" line and the AI tests are skipped with that message. bench_ai:
# the tiny text-to-image model in float16 batched vs one at a time, eager and with each compile
# flag, and the video frames' yuv420p on the device vs the host.
if $PY -c "import torch, sys; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  $PY -m bench.gpu.bench_ai --iterations 20 --compile | tee "$OUT/bench_ai.jsonl" || tests=1
  # Live (#8): frames converted on the device, the diffusion pipeline on CUDA, a whole stream
  # with NVENC where it opens (its tests skip what the image lacks, with the reason).
  $PY -m pytest -p no:cacheprovider -rs -q tests/live/test_gpu.py tests/live/test_encode.py \
    >"$OUT/live-gpu-tests.txt" 2>&1 || tests=1
  tail -5 "$OUT/live-gpu-tests.txt"
  $PY -m bench.pipelines.bench_live --cuda --iterations 10 | tee "$OUT/bench_live_cuda.jsonl" || tests=1
  if $PY -c "import diffusers, transformers, PIL" 2>/dev/null; then
    $PY -m pytest -p no:cacheprovider -rs -q tests/ai/test_runtime.py >"$OUT/ai-tests.txt" 2>&1 || tests=1
    tail -5 "$OUT/ai-tests.txt"
  else
    echo "AI tests skipped: diffusers, transformers or Pillow does not import" | tee "$OUT/ai-tests.txt"
  fi
else
  echo "AI GPU checks skipped: torch does not import or has no CUDA" | tee "$OUT/bench_ai.jsonl"
fi
exit $tests
