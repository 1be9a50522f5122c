"""The cost of one image is bounded: a tiny file with a huge pixel count does not blow the server up.

A child process warms a real lite runtime up, then runs a whole turn (decode, store, segment,
explain, remember) on a PNG of ~49 megapixels that is a few hundred kB on disk. The peak resident
memory during that turn (Linux ``VmHWM``, reset with ``/proc/self/clear_refs``) may exceed the
idle process by at most 300 MB; before the pixel budget the same turn took ~1.7 GB.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from _data import HDMI_JPG, REPO, _chunk

LIMIT_MB = 300


def huge_png(path: Path, side: int = 7000) -> int:
    """Write an RGB PNG of side x side pixels (black, a white square in the middle) row by row."""
    black = b"\x00" + b"\x00" * (3 * side)
    lo, hi = side // 3, 2 * side // 3
    square = b"\x00" + b"\x00" * (3 * lo) + b"\xff" * (3 * (hi - lo)) + b"\x00" * (3 * (side - hi))
    pack = zlib.compressobj(9)
    body = b"".join(pack.compress(square if lo <= y < hi else black) for y in range(side)) + pack.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))
    return path.stat().st_size


CHILD = """
import gc, json, sys
from pathlib import Path
from agent.images import load_image_file
from agent.memory import Memory
from graphs.runtime import Runtime
from tools.backends.lite import LiteBackend

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)

url, photo, huge = sys.argv[1:4]
runtime = Runtime(memory=Memory(url), backend=LiteBackend())
warm = runtime.new_session()
runtime.run_turn_sync(warm, "find the HDMI label", image=load_image_file(photo))
runtime.run_turn_sync(warm, "now the port next to it")
gc.collect()
idle = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
sid = runtime.new_session()
summary = runtime.run_turn_sync(sid, "find the white square", image=Path(huge).read_bytes())
peak = status("VmHWM")
mask = summary.masks[0].mask.array if summary.masks else None
print(json.dumps({"idle_mb": idle, "peak_mb": peak, "growth_mb": peak - idle,
                  "mask_shape": None if mask is None else list(mask.shape)}))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc to measure peak memory")
def test_a_tiny_file_with_49_megapixels_costs_at_most_300_mb(tmp_path: Path) -> None:
    huge = tmp_path / "huge.png"
    size = huge_png(huge)
    assert size < 400_000  # tiny on disk
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, f"sqlite:///{tmp_path / 'cost.db'}", str(HDMI_JPG), str(huge)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(figures)
    assert figures["mask_shape"] == [2048, 2048]  # the working budget: 7000x7000 reduced to 2048x2048
    assert figures["growth_mb"] <= LIMIT_MB, figures
