"""The exit statuses of every ``vigie`` command, in one table.

A supervisor or a script branches on the *kind* of failure, whichever command met it:
``vigie`` (run), ``vigie check``, ``vigie db upgrade``, ``vigie sync`` and ``vigie api``
all use these numbers, and print one line saying what to do. ``api`` had 2-6 first; the
other commands were fitted around them so no script written against ``api`` breaks.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: Unexpected: a bug or an error nobody foresaw (the log has the details).
    FAILURE = 1
    #: A setting, argument or file is missing or invalid; or La Cale refused the request.
    USAGE = 2
    #: A credential was refused: the Discord token, or the La Cale API key (or none given).
    AUTH = 3
    #: La Cale asked to slow down.
    RATE_LIMITED = 4
    #: A service cannot be reached or answered badly: Discord or La Cale.
    UNAVAILABLE = 5
    #: ``api upload``: La Cale already has this torrent.
    DUPLICATE = 6
    #: The database cannot be opened, reached or migrated.
    DATABASE = 7
    #: Stopped by Ctrl-C in a one-shot command (the bot itself exits 0 on SIGINT/SIGTERM).
    INTERRUPTED = 130


#: For ``--help`` epilogs and the README.
EXIT_STATUS_HELP = """\
exit status (every command):
  0    ok (the bot also exits 0 when stopped by SIGTERM or Ctrl-C)
  1    unexpected error (see the log)
  2    a setting, argument or file is missing or invalid (or another SHARD_COUNT/CLUSTER_COUNT
       than the running processes'); or La Cale refused the request
  3    a credential was refused: the Discord token or the La Cale API key
  4    La Cale rate limit: retry later
  5    Discord or La Cale cannot be reached or answered badly
  6    api upload: the torrent is already on La Cale
  7    the database cannot be opened, reached or migrated, or the connection holding the
       cluster slot was lost (the process stopped at once)
  130  interrupted (Ctrl-C) during a one-shot command"""
