"""Kept for imports written before the cards moved to :mod:`bot.ui.cards`."""

from bot.ui.cards import COLOUR, release_card, result_line, results_page, timestamp

__all__ = ["COLOUR", "release_card", "result_line", "results_page", "timestamp"]
