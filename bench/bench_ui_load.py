"""Load on the chat app: N simultaneous ``gradio_client`` users x T turns on the lite backend.

Starts the app in its own process through ``ui.serve`` (SQLite in a temp folder, Gradio queue
with the app's default concurrency), then N threads each open their own client (their own browser-like session and
private sessions), upload the TextCaps photo and chat T turns. Counts errors (exceptions and
turns whose reply is a one-line warning), checks that every user turn was stored with status
ok, and reports per-turn latency as the client sees it (queueing included) and as the server
stored it (the turn itself). Prints one JSON object.

Target (issue 3): 20 users x 5 turns: zero errors, all 100 turns stored, median latency reported.
Issue 13: each user uploads a *different* photo (the TextCaps photo cropped, mirrored and
brightened differently per user, so every first turn analyses a new image), the client-observed
p90, and the server's resident memory after warm-up, after the run, and its peak.
Usage: ``python bench/bench_ui_load.py [--users 20] [--turns 5] [--concurrency 4] [--same-photo]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.memory import Memory  # noqa: E402
from ui.testing import free_port  # noqa: E402

SCRIPT = ["find the HDMI label", "what does it say?", "now the port next to it", "why is it important?", "the bigger one"]
SESSION_ID_OUTPUT = 5
"""Index of the session id among /send's outputs (message box, chat, side, intent, status, id)."""


def _reply_text(chat: list[dict]) -> str:
    last = chat[-1] if chat else {"content": []}
    return " ".join(item.get("text", "") for item in last.get("content", []) if isinstance(item, dict))


SERVER = """
import sys
sys.path.insert(0, {repo!r})
from agent.memory import Memory
from graphs.runtime import Runtime
from tools.backends.lite import LiteBackend
from ui import serve
runtime = Runtime(memory=Memory({db!r}), backend=LiteBackend())
serve(runtime, host="127.0.0.1", port={port}, concurrency={concurrency}, quiet=True)
"""


CPU: dict[str, float] = {}
"""CPU seconds used by the server process, filled in when the run ends (script-level result)."""


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


SERVER_PID: dict[str, int] = {}
"""The server process's pid while it runs (script-level, read for its memory)."""


@contextmanager
def _server(db: str, concurrency: int) -> Iterator[str]:
    """Run the app in its own process (as in production), so client threads do not share its GIL."""
    port = free_port()
    code = SERVER.format(repo=str(REPO), db=db, port=port, concurrency=concurrency)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    SERVER_PID["pid"] = proc.pid
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"{url}/config", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("server did not start within 120 s")
        yield url
        CPU["server_s"] = _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process now and at its peak (Linux /proc), in MB."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in lines if line.startswith(("VmRSS", "VmHWM"))}
    return {"rss": round(values.get("VmRSS", float("nan")), 1), "peak": round(values.get("VmHWM", float("nan")), 1)}


def distinct_photos(source: Path, count: int, folder: Path) -> list[Path]:
    """Write ``count`` different JPEGs made from one photo (crop, mirror, brightness vary per user)."""
    from PIL import Image, ImageEnhance, ImageOps

    base = Image.open(source).convert("RGB")
    out = []
    for i in range(count):
        dx, dy = 4 * (i % 5), 3 * (i // 5)
        image = base.crop((dx, dy, base.width - (12 - dx % 12), base.height - (9 - dy % 9)))
        if i % 2:
            image = ImageOps.mirror(image)
        image = ImageEnhance.Brightness(image).enhance(0.9 + 0.01 * i)
        path = folder / f"user{i:02d}.jpg"
        image.save(path, quality=90)
        out.append(path)
    return out


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4, help="Gradio queue concurrency (the app default is 4)")
    parser.add_argument("--image", type=Path, default=REPO / "data/photos/textcaps_hdmi.jpg")
    parser.add_argument("--same-photo", action="store_true", help="every user uploads the same photo (the issue-3 run)")
    args = parser.parse_args()
    from gradio_client import Client, handle_file

    latencies: list[float] = []
    errors: list[str] = []
    session_ids: list[str] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory() as tmp, _server(f"sqlite:///{tmp}/bench.db", args.concurrency) as url:
        warm = Client(url, verbose=False, download_files=False)  # warm-up: OCR engine and the photo's analysis
        warm.predict({"text": "find the HDMI label", "files": [handle_file(str(args.image))]}, api_name="/send")
        photos = [args.image] * args.users if args.same_photo else distinct_photos(args.image, args.users, Path(tmp))
        memory_before = _rss_mb(SERVER_PID["pid"])
        barrier = threading.Barrier(args.users)

        def user(index: int) -> None:
            try:
                client = Client(url, verbose=False, download_files=False)
            except Exception as exc:  # noqa: BLE001 - counted, reported
                with lock:
                    errors.append(f"user {index}: connect: {type(exc).__name__}: {exc}")
                barrier.abort()
                return
            try:
                barrier.wait(timeout=120)
            except threading.BrokenBarrierError:
                pass
            for turn in range(args.turns):
                files = [handle_file(str(photos[index]))] if turn == 0 else []
                start = time.perf_counter()
                try:
                    out = client.predict({"text": SCRIPT[turn % len(SCRIPT)], "files": files}, api_name="/send")
                except Exception as exc:  # noqa: BLE001 - counted, reported
                    with lock:
                        errors.append(f"user {index} turn {turn}: {type(exc).__name__}: {exc}")
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                reply = _reply_text(out[1])
                with lock:
                    latencies.append(elapsed)
                    if reply.startswith("⚠"):
                        errors.append(f"user {index} turn {turn}: {reply[:200]}")
                    if turn == 0:
                        session_ids.append(out[SESSION_ID_OUTPUT])

        started = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu_start = usage.ru_utime + usage.ru_stime
        threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        memory_after = _rss_mb(SERVER_PID["pid"])
        usage = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu_s = usage.ru_utime + usage.ru_stime - client_cpu_start
        memory = Memory(f"sqlite:///{tmp}/bench.db")
        histories = [memory.history(sid) for sid in session_ids]
        owners = {h.session.owner for h in histories}
        user_turns = [t for h in histories for t in h.turns if t.role == "user"]
        stored_ok = sum(1 for t in user_turns if t.status == "ok")
        answered = sum(1 for h in histories for t in h.turns if t.role == "assistant" and t.status == "ok")
        server = sorted(t.latency_ms for h in histories for t in h.turns if t.role == "assistant" and t.latency_ms is not None)
        memory.close()
    ordered = sorted(latencies)
    result = {
        "benchmark": "ui_load_gradio_client",
        "backend": "lite",
        "users": args.users,
        "turns_per_user": args.turns,
        "queue_concurrency": args.concurrency,
        "distinct_photos": not args.same_photo,
        "server_memory_mb": {
            "after_warmup": memory_before.get("rss"),
            "after_run": memory_after.get("rss"),
            "growth": round(memory_after.get("rss", float("nan")) - memory_before.get("rss", float("nan")), 1),
            "peak": memory_after.get("peak"),
        },
        "errors": len(errors),
        "error_samples": errors[:5],
        "turns_sent": args.users * args.turns,
        "turns_completed": len(latencies),
        "user_turns_stored_ok": stored_ok,
        "assistant_turns_stored": answered,
        "sessions": len(histories),
        "distinct_owners": len(owners),
        "turn_latency_ms": {
            "median": round(statistics.median(ordered), 1) if ordered else None,
            "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 1) if ordered else None,
            "max": round(ordered[-1], 1) if ordered else None,
        },
        "server_turn_latency_ms": {
            "median": round(statistics.median(server), 1) if server else None,
            "p90": round(server[int(0.9 * (len(server) - 1))], 1) if server else None,
        },
        "wall_s": round(wall, 2),
        "server_cpu_s_total": round(CPU.get("server_s", float("nan")), 1),
        "client_cpu_s": round(client_cpu_s, 1),
        "cpu_cores": os.cpu_count(),
        "turns_per_s": round(len(latencies) / wall, 2) if wall else None,
        "pass": not errors and stored_ok == args.users * args.turns,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
