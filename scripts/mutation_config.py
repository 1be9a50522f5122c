"""Helper of scripts/mutation.sh: the mutmut config for some modules, and the score of a run.

``mutation_config.py MODULE ...`` prints a ``[tool.mutmut]`` section that mutates only those
modules and runs the tests that exercise them; ``mutation_config.py --score MODULE ...`` reads
``mutmut results --all true`` on stdin and prints the JSON summary (run it in mutmut's folder:
it reads ``mutmut show`` to confirm the equivalent mutants below).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable

TESTS = {
    "agent/memory": ["tests/test_memory.py", "tests/test_memory_recall.py", "tests/test_memory_schema.py", "tests/test_turn_lock.py"],
    "agent/types.py": ["tests/test_memory.py", "tests/test_knowable.py", "tests/test_intent.py", "tests/test_metrics.py", "tests/test_mask_roles.py"],
    "graphs/turn.py": ["tests/test_knowable.py", "tests/test_mask_roles.py", "tests/test_runtime.py"],
    "graphs/metrics.py": ["tests/test_metrics.py", "tests/test_evaluate.py"],
    "ui/links.py": ["tests/test_knowable.py", "tests/test_ui_render.py"],
    "ui/routes.py": ["tests/test_gradio_client_ui.py"],
}
"""The tests that exercise each core module (mutmut then runs, per mutant, only those that reach it).
A file inside a listed package (``agent/memory/convert.py``) gets its package's tests.

For ui/routes.py: the live-server tests share one server per module, so mutmut credits the
route builder to the first of them only; the route tests that count are the ones at the end of
that file, which build the routes afresh in each test (before them: 123 of 283 killed)."""


EQUIVALENT: dict[str, tuple[str, str]] = {
    # ui/links.py
    "ui.links.xǁLinksǁ__init____mutmut_3": ("secrets.token_bytes(None)", "token_bytes' default size is 32 bytes"),
    "ui.links.xǁLinksǁ__init____mutmut_4": ("secrets.token_bytes(33)", "a 33-byte random key: links still unforgeable"),
    "ui.links.xǁLinksǁ_mac__mutmut_8": ('"XX\\x00XX".join(parts)', "another separator: the key is per app, MACs stay unambiguous"),
    "ui.links.xǁLinksǁowner_id__mutmut_5": ('self._mac("XXownerXX"', "another domain tag: still distinct from picture/export"),
    "ui.links.xǁLinksǁowner_id__mutmut_6": ('self._mac("OWNER"', "another domain tag: still distinct from picture/export"),
    "ui.links.xǁLinksǁowner_id__mutmut_9": ("[:25]", "a 25-digit owner id: opaque, used only as made"),
    "ui.links.xǁLinksǁpicture_html__mutmut_3": ("quote=None)", "picture names are content keys (hex + suffix): no quotes to escape"),
    "ui.links.xǁLinksǁpicture_html__mutmut_5": ("self.picture(name, owner), )", "quote=True is html.escape's default"),
    "ui.links.xǁLinksǁpicture_html__mutmut_10": ("quote=False)", "picture names are content keys (hex + suffix): no quotes to escape"),
    "ui.links.xǁLinksǁpicture_html__mutmut_14": ("html.escape(alt, )", "quote=True is html.escape's default"),
    "ui.links.xǁLinksǁexport__mutmut_26": ("quote(session_id, )", "session ids are 32 hex digits (agent.memory): nothing to quote"),
    "ui.links.xǁLinksǁexport__mutmut_27": ("safe='XXXX'", "'X' is never quoted, so this still quotes everything but letters"),
    # graphs/metrics.py
    "graphs.metrics.x_as_bool__mutmut_11": ("(arr.dtype == bool) and False", "a bool array != 0 is the same array (a copy)"),
    "graphs.metrics.x_mask_boundary__mutmut_2": (".astype(None)", "a float64 mask erodes to the same band"),
    "graphs.metrics.x_mask_boundary__mutmut_13": ("1, 1, 1, 1, None, value=0)", "border type None is 0, BORDER_CONSTANT"),
    "graphs.metrics.x_mask_boundary__mutmut_14": ("value=None)", "a constant border is 0 by default"),
    "graphs.metrics.x_mask_boundary__mutmut_21": ("cv2.BORDER_CONSTANT, )", "a constant border is 0 by default"),
    "graphs.metrics.x_mask_boundary__mutmut_29": ("cv2.erode(padded, None,", "erode's default kernel is the 3x3 square"),
    "graphs.metrics.x_mask_boundary__mutmut_35": ("np.ones((3, 3), None)", "a float 3x3 kernel of ones erodes the same"),
    "graphs.metrics.x_mask_boundary__mutmut_37": ("np.ones((3, 3), )", "a float 3x3 kernel of ones erodes the same"),
    # agent/types.py
    "agent.types.xǁMaskǁfrom_rle__mutmut_12": ("(isinstance(counts, str)) and False", "pycocotools encodes str counts itself"),
    "agent.types.xǁMaskǁfrom_rle__mutmut_16": ('counts.encode("ASCII")', "codec names are case-insensitive"),
    "agent.types.x__json_rle__mutmut_17": ('.decode("ASCII")', "codec names are case-insensitive"),
    "agent.types.xǁMaskǁto_png__mutmut_9": ("self.array.astype(None) * 255", "a float 0/255 image converts to the same 1-bit PNG"),
    "agent.types.xǁMaskǁto_png__mutmut_13": ('format="png"', "Pillow's format names are case-insensitive"),
    "agent.types.xǁMaskǁfrom_png__mutmut_5": ("img.convert(None)", "for the 1-bit and grey PNGs it reads, a copy is the same as L"),
    # graphs/turn.py
    "graphs.turn.x__call_tool__mutmut_9": ('"XXnameXX": tool.name', "tool.invoke reads a tool call's type, id and args only; the reply's name is the tool's"),
    "graphs.turn.x__call_tool__mutmut_10": ('"NAME": tool.name', "tool.invoke reads a tool call's type, id and args only; the reply's name is the tool's"),
    "graphs.turn.x__call_tool__mutmut_25": ('getattr(message, "artifact", )', "the segment and explain tools (tools/) answer a tool call with a ToolMessage, which always has .artifact"),
    "graphs.turn.x__absent_reply__mutmut_5": ("target_phrase(state.intent, relations=None)", "target_phrase only tests `if relations:`; None is as false as False"),
    "graphs.turn.x__indefinite__mutmut_40": ('in "XXaeiouXX"', "phrase[:1].lower() is one lower-case letter or empty: in the same strings either way"),
    # ui/routes.py
    "ui.routes.x_build_routes__mutmut_20": ('get("u", "XXXX")', "a link without u= fails its signature check either way"),
    "ui.routes.x_build_routes__mutmut_27": ('get("s", "XXXX")', "a link without s= fails its signature check either way"),
    "ui.routes.x_build_routes__mutmut_44": ("media_type = None", "FileResponse guesses the same type from the file name"),
    "ui.routes.x_build_routes__mutmut_57": ("media_type=None, headers=headers)", "FileResponse guesses the same type from the file name"),
    "ui.routes.x_build_routes__mutmut_60": ("FileResponse(path, headers=headers)", "FileResponse guesses the same type from the file name"),
    "ui.routes.x_build_routes__mutmut_48": ('"XXapplication/octet-streamXX"', "unreachable: every suffix PICTURE_NAME allows has a known type"),
    "ui.routes.x_build_routes__mutmut_49": ('"APPLICATION/OCTET-STREAM"', "unreachable: every suffix PICTURE_NAME allows has a known type"),
    "ui.routes.x_build_routes__mutmut_52": ('"cache-control": "private', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_53": ('"CACHE-CONTROL": "private', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_128": ('"cache-control": "no-store"', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_129": ('"CACHE-CONTROL": "no-store"', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_133": ('"content-disposition": disposition', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_134": ('"CONTENT-DISPOSITION": disposition', "HTTP header names are case-insensitive"),
    "ui.routes.x_build_routes__mutmut_113": ("cast(None, kind)", "typing.cast does nothing at run time"),
    "ui.routes.x_build_routes__mutmut_117": ('cast("XXExportKindXX", kind)', "typing.cast does nothing at run time"),
    "ui.routes.x_build_routes__mutmut_118": ('cast("exportkind", kind)', "typing.cast does nothing at run time"),
    "ui.routes.x_build_routes__mutmut_119": ('cast("EXPORTKIND", kind)', "typing.cast does nothing at run time"),
    "ui.routes.x_build_routes__mutmut_144": ("picture, methods=None,", "Starlette gives a function endpoint GET by default"),
    "ui.routes.x_build_routes__mutmut_148": ("Route(PICTURE_ROUTE, picture, name=", "Starlette gives a function endpoint GET by default"),
    "ui.routes.x_build_routes__mutmut_151": ('picture, methods=["get"]', "Starlette upper-cases the methods"),
    "ui.routes.x_build_routes__mutmut_156": ("export, methods=None,", "Starlette gives a function endpoint GET by default"),
    "ui.routes.x_build_routes__mutmut_160": ("Route(EXPORT_ROUTE, export, name=", "Starlette gives a function endpoint GET by default"),
    "ui.routes.x_build_routes__mutmut_163": ('export, methods=["get"]', "Starlette upper-cases the methods"),
    "ui.routes.x_build_routes__mutmut_145": ('picture, methods=["GET"], name=None)', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_149": ('picture, methods=["GET"], )', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_152": ('name="XXpixelrs_pictureXX"', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_153": ('name="PIXELRS_PICTURE"', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_157": ('export, methods=["GET"], name=None)', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_161": ('export, methods=["GET"], )', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_164": ('name="XXpixelrs_exportXX"', "route names are only for url_for, which nothing uses"),
    "ui.routes.x_build_routes__mutmut_165": ('name="PIXELRS_EXPORT"', "route names are only for url_for, which nothing uses"),
}
"""Surviving mutants that cannot change behaviour: mutant name -> (text of its mutated line, why).

A listed mutant counts as equivalent only while ``mutmut show`` still has that text on its ``+``
line; after the function changes, a stale entry counts as a survivor again (and is listed under
``stale_equivalents`` in the summary) until someone re-checks it."""


def _mutated_line(name: str) -> str:
    shown = subprocess.run(["mutmut", "show", name], capture_output=True, text=True, check=False).stdout
    return "\n".join(line for line in shown.splitlines() if line.startswith("+") and not line.startswith("+++"))


def _pattern(module: str) -> str:
    return module if module.endswith(".py") else f"{module.rstrip('/')}/*"


def _tests(module: str) -> list[str]:
    """Return the tests of ``module``, or of the listed package it is in, else the whole suite."""
    module = module.rstrip("/")
    for key in sorted(TESTS, key=len, reverse=True):
        if module == key or module.startswith(key.rstrip("/") + "/"):
            return TESTS[key]
    return ["tests"]


def config(modules: list[str]) -> str:
    """Return the ``[tool.mutmut]`` section for ``modules``."""
    tests = sorted({t for m in modules for t in _tests(m)})
    return "\n".join([
        "",
        "[tool.mutmut]",
        'source_paths = ["agent", "tools", "graphs", "ui"]',
        f"only_mutate = {json.dumps([_pattern(m) for m in modules])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}",
        'also_copy = ["app.py", "data", "tests"]',
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-m", "not postgres and not browser"]',
        "",
    ])


def score(lines: list[str], modules: list[str], mutated: Callable[[str], str] = _mutated_line) -> dict[str, object]:
    """Count mutant outcomes per module from ``mutmut results --all true`` lines.

    ``score`` is killed / all; ``score_non_equivalent`` leaves the confirmed equivalent mutants out
    of "all" (``mutated`` returns a mutant's changed lines, for that confirmation)."""
    per: dict[str, Counter[str]] = {m: Counter() for m in modules}
    stale: list[str] = []
    for line in lines:
        found = re.match(r"\s*([\w.]+)\.x?ǁ?.*__mutmut_\d+: (.+)$", line) or re.match(r"\s*([\w.]+?)\.\w+__mutmut_\d+: (.+)$", line)
        if not found:
            continue
        dotted, status = found.group(1), found.group(2).strip()
        name = line.split(":")[0].strip()
        if status == "survived" and name in EQUIVALENT:
            if EQUIVALENT[name][0] in mutated(name):
                status = "equivalent"
            else:
                stale.append(name)
        path = dotted.replace(".", "/")
        for m in modules:
            if path.startswith(m.removesuffix(".py").rstrip("/")):
                per[m][status] += 1
    out: dict[str, object] = {}
    for m, counts in per.items():
        out[m] = _summary(counts)
    out["all"] = _summary(sum(per.values(), Counter()))
    if stale:
        out["stale_equivalents"] = stale
    return out


def _summary(counts: Counter[str]) -> dict[str, object]:
    not_checked = counts.pop("not checked", 0)  # a run of some mutants only (MUTANTS=...)
    total = sum(counts.values())
    real = total - counts["equivalent"]
    return {
        **counts,
        "total": total,
        "score": round(counts["killed"] / total, 3) if total else None,
        "score_non_equivalent": round(counts["killed"] / real, 3) if real else None,
        **({"not_checked": not_checked} if not_checked else {}),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--score":
        sys.stdout.write(json.dumps(score(sys.stdin.read().splitlines(), args[1:]), indent=2) + "\n")
    else:
        sys.stdout.write(config(args))
