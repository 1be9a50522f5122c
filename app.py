"""pixelrs entry point: ``python app.py`` starts the chat app; ``pixelrs ...`` runs the CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pixelrs`` command line (see ``pixelrs --help``)."""
    from ui.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or arguments[0].startswith("-"):
        arguments = ["serve", *arguments]  # `python app.py [--port N ...]` starts the app
    sys.exit(main(arguments))
