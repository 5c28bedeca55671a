"""What operators see of a running Vigie: metrics (:mod:`.metrics`), the health endpoint
(:mod:`.health`) and Discord's 429s (:mod:`.discord_http`). Imports no discord code, so
services may record into :class:`~bot.observability.metrics.Metrics`."""
