"""``pixelrs serve``: the Gradio chat app, until Ctrl-C or SIGTERM (:mod:`ui.lifecycle`)."""

from __future__ import annotations

import argparse

from ui.cli_errors import EXIT_OK, check_port_free, port_number
from ui.cli_options import add_backend_options, add_db_option, settings_from_args


def add_serve_command(sub: argparse._SubParsersAction) -> None:
    """Register ``serve`` and its options."""
    serve = sub.add_parser("serve", help="start the Gradio chat app")
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every one)")
    serve.add_argument("--port", type=port_number, default=7860, help="TCP port (default 7860)")
    serve.add_argument(
        "--auth", action="append",
        help="user:pass, or a file with one user:pass per line; repeat for several users",
    )
    serve.add_argument("--concurrency", type=int, default=4, help="turns that run at the same time (default 4)")
    serve.add_argument(
        "--grace", type=float, default=20.0, metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long running turns may finish before they are marked interrupted",
    )
    serve.add_argument(
        "--anonymous",
        choices=["browser", "shared"],
        default="browser",
        help="without login: sessions private per browser (default) or shared (single-user local use)",
    )
    serve.add_argument("--mcp", action="store_true",
                       help="also serve the segment, explain and session tools over MCP at /gradio_api/mcp/ "
                            "(needs pixelrs[mcp])")
    add_db_option(serve)
    add_backend_options(serve)


def cmd_serve(args: argparse.Namespace) -> int:
    """Start the Gradio app (blocks until interrupted)."""
    from graphs.runtime import Runtime
    from ui.lifecycle import serve_until_stopped

    if args.mcp:
        from ui.mcp_tools import check_mcp

        check_mcp(auth=args.auth)  # one line now, before any model loads
    check_port_free(args.host, args.port)  # before any model loads
    runtime = Runtime.from_settings(settings_from_args(args))
    serve_until_stopped(
        runtime, grace_s=args.grace, host=args.host, port=args.port, auth=args.auth,
        concurrency=args.concurrency, anonymous=args.anonymous, mcp=args.mcp,
    )
    return EXIT_OK
