#!/usr/bin/env bash
# Installs the programs the test suite and benches use beside Python packages (run by
# `make check` through `make tools`; safe to run again: what is present is skipped).
#   Debian: ffmpeg (the CLI baseline of bench/pipelines/bench_transcode.py)
#   Debian: espeak-ng (speech that tests/serve/test_ai.py transcribes)
#   npm, into .tools/ (gitignored): anvil (Foundry's Ethereum node: the devnet of tests/chain)
#   and solcjs (compiles contracts/ into src/lpengine/chain/artifacts/), at pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."

ANVIL_VERSION=1.7.1
SOLC_VERSION=0.8.37

debian=()
command -v ffmpeg >/dev/null || debian+=(ffmpeg)
command -v npm >/dev/null || debian+=(npm)
command -v espeak-ng >/dev/null || debian+=(espeak-ng)  # speech for the audio-to-text test
if ((${#debian[@]})); then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${debian[@]}"
fi

# NOTE: the versions are asked of the binaries, so a stale .tools/ is upgraded in place.
bin=.tools/node_modules/.bin
if ! { [[ -x $bin/anvil ]] && "$bin/anvil" --version 2>/dev/null | grep -q "Version: $ANVIL_VERSION" &&
    [[ -x $bin/solcjs ]] && "$bin/solcjs" --version 2>/dev/null | grep -q "^$SOLC_VERSION+"; }; then
    mkdir -p .tools
    npm install --prefix .tools --no-save --no-audit --no-fund --loglevel=error \
        "@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION" "solc@$SOLC_VERSION"
fi
