"""``python -m sim``: the same as the ``rapport`` command."""

from .cli import main

raise SystemExit(main())
