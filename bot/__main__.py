"""``python -m bot`` is the ``vigie`` command."""

from bot.cli import main

raise SystemExit(main())
