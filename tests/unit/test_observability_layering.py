"""Services record metrics without pulling discord.py in: the metrics, health and backup
modules, like bot/services, bot/lacale and bot/db, import no discord code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_health_and_services_import_no_discord() -> None:
    code = (
        "import sys\n"
        "import bot.observability.metrics, bot.observability.health, bot.observability.discord_http\n"
        "import bot.services.alerts, bot.services.lacale_access, bot.lacale.client, bot.db.backup\n"
        "print(sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_health_settings_default_off_and_loopback() -> None:
    from bot.config import Settings

    assert Settings.model_fields["health_port"].default is None
    assert Settings.model_fields["health_host"].default == "127.0.0.1"
