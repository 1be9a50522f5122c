"""docs/extending.md builds a plug-in from scratch: its code blocks, written out as a package and
registered through an entry point, must give a tool that pixelrs chooses and whose mask it keeps."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from agent.images import LoadedImage, decode_image
from agent.settings import Settings
from graphs.runtime import Runtime

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
BLOCK = re.compile(r"```(?:python|toml)\n# file: (\S+)( \(continued\))?\n(.*?)```", re.DOTALL)


def write_package(root: Path) -> dict[str, str]:
    """Write every ``# file:`` block of the guide under ``root`` (continued blocks are appended)."""
    files: dict[str, str] = {}
    for name, continued, body in BLOCK.findall(GUIDE.read_text()):
        files[name] = files.get(name, "") + body if continued else body
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return files


def register(root: Path, site: Path) -> None:
    """Write the distribution metadata pip would write for the guide's pyproject.toml."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = [f"{name} = {target}" for name, target in project["entry-points"]["pixelrs.tools"].items()]
    (dist / "entry_points.txt").write_text("[pixelrs.tools]\n" + "\n".join(lines) + "\n")


def circle_image() -> LoadedImage:
    image = Image.new("RGB", (320, 240), (235, 235, 225))
    ImageDraw.Draw(image).ellipse([130, 60, 200, 130], fill=(30, 60, 200))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return decode_image(buf.getvalue())


def test_the_guide_builds_a_working_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str, lite: Any) -> None:
    root = tmp_path / "pixelrs-grow"
    files = write_package(root)
    assert set(files) == {"pyproject.toml", "pixelrs_grow/__init__.py", "pixelrs_grow/tool.py", "tests/test_grow.py"}
    register(root, tmp_path / "site")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))

    # the guide's own tests pass (run as the package's author would, in a fresh interpreter)
    repo = GUIDE.parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_grow.py", "--rootdir", str(root)],
        cwd=root, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{repo}"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    runtime = Runtime.from_settings(Settings(db_url=sqlite_url, tools=["grow"]), backend=lite)
    try:
        sid = runtime.new_session()
        found = runtime.run_turn_sync(sid, "find the blue circle", image=circle_image())
        grown = runtime.run_turn_sync(sid, "grow it by 6 pixels")
        assert grown.reply.startswith("Grew the circle by 6 px")
        assert grown.masks[0].mask.area > found.masks[0].mask.area
        history = runtime.history(sid)
        assert [c.tool for c in history.turns[-1].tool_calls] == ["grow"]
        assert history.current_mask.id == grown.masks[0].id
        shrunk = runtime.run_turn_sync(sid, "shrink it by 3")
        assert shrunk.masks[0].mask.area < grown.masks[0].mask.area
    finally:
        runtime.close()
