#!/usr/bin/env bash
# Installs the programs the test suite and benches use beside Python packages (run by
# `make check` through `make tools`; safe to run again: what is present is skipped).
#   Debian: ffmpeg (the CLI baseline of bench/pipelines/bench_transcode.py)
set -euo pipefail
cd "$(dirname "$0")/.."

debian=()
command -v ffmpeg >/dev/null || debian+=(ffmpeg)
if ((${#debian[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${debian[@]}"
fi
