#!/usr/bin/env bash
# Writes tests/fixtures/audio/steps.flac: 4.4 s of mono 16-bit audio at 8 kHz (31 frames of
# 1152 samples, each a constant level with a short tick, so the file stays ~5 KB), encoded with
# the reference FLAC encoder (Debian: apt-get install -y flac python3). tests/cli/safety.test.ts
# damages copies of it (a flipped byte in one frame: CRC error; a changed MD5 in STREAMINFO).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/steps.wav" <<'PY'
import struct, sys, wave
sr = 8000
n = int(4.4 * sr)
w = wave.open(sys.argv[1], 'wb')
w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr)
w.writeframes(b''.join(struct.pack('<h', (i // 1152 % 7) * 300 - 900 + (40 if i % 1152 < 32 and (i // 4) % 2 else 0)) for i in range(n)))
w.close()
PY
mkdir -p tests/fixtures/audio
flac -s -f --best -b 1152 --no-padding -o tests/fixtures/audio/steps.flac "$tmp/steps.wav"
ls -l tests/fixtures/audio/steps.flac
