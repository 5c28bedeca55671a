"""Typed command options (bot/ui/options.py): callbacks receive parsed values, and a value
a transformer refuses reads exactly as precisely as when the callback parsed it."""

import pytest
from discord import AppCommandOptionType, app_commands

from bot import i18n
from bot.ui.errors import describe_error
from cogs.alerts import Alerts
from cogs.search import Search
from cogs.upload import Upload

COMMANDS = {
    "/search": Search.search,
    "/alert add": Alerts.add,
    "/alert edit": Alerts.edit,
    "/upload": Upload.upload,
}
#: Options parsed by a transformer wherever they appear, and the few kept as text, with why.
TYPED = {"min_size", "max_size", "tmdb", "exclude", "category", "tags"}
KEPT_AS_TEXT = {
    # /upload is deferred before anything is checked (tests/e2e/test_upload.py requires
    # it): its TMDB id is checked with tmdb_type (both or neither) by the upload service.
    ("/upload", "tmdb"),
    # An id picked in /upload's own autocomplete (the key it lends), resolved to one category.
    ("/upload", "category"),
}


def _param(command: str, name: str) -> app_commands.transformers.CommandParameter:
    return COMMANDS[command]._params[name]


def test_every_parsed_option_is_typed_at_the_command_boundary() -> None:
    seen = set()
    for command, cmd in COMMANDS.items():
        for name, param in cmd._params.items():
            if name in TYPED and (command, name) not in KEPT_AS_TEXT:
                seen.add(name)
                # One of Vigie's transformers (discord.py wraps a plain ``str`` in one of its own).
                assert type(param._annotation).__module__ == "bot.ui.options", f"{command} {name} is parsed by hand"
                # Discord still sees a string option: nothing changes for members.
                assert param.type is AppCommandOptionType.string
    assert seen == TYPED


async def test_transformers_give_typed_values() -> None:
    assert await _param("/alert add", "min_size").transform(None, "4.5 GiB") == int(4.5 * 2**30)
    assert await _param("/alert add", "max_size").transform(None, "1,5 Go") == 1_500_000_000
    assert await _param("/alert add", "max_size").transform(None, "700 MB") == 700_000_000
    assert await _param("/alert edit", "exclude").transform(None, "CAM, hd  ts") == ("cam", "hd ts")
    assert await _param("/search", "tmdb").transform(None, " 27205 ") == "27205"
    assert await _param("/search", "category").transform(None, " films ") == ("films",)
    assert await _param("/upload", "tags").transform(None, "French, 1080p,, French") == ("French", "1080p")


@pytest.mark.parametrize(
    ("command", "option", "typed", "key", "values"),
    [
        ("/alert add", "min_size", "12 parsecs", "alert.error.bad_size", {"field": "min_size", "value": "12 parsecs"}),
        ("/alert edit", "max_size", "*huge*", "alert.error.bad_size", {"field": "max_size", "value": r"\*huge\*"}),
        ("/search", "tmdb", "12a", "search.bad_tmdb", {}),
        ("/alert add", "tmdb", "1" * 65, "error.too_long", {"field": "tmdb", "limit": 64}),
    ],
)
@pytest.mark.parametrize("locale", ["fr", "en-US"])
async def test_a_refused_value_reads_as_precisely_as_before(
    command: str, option: str, typed: str, key: str, values: dict, locale: str
) -> None:
    with pytest.raises(app_commands.TransformerError) as exc:
        await _param(command, option).transform(None, typed)
    assert describe_error(exc.value, locale).text == i18n.t(locale, key, **values)
    assert describe_error(exc.value, locale).error_id is None


def test_clear_names_options_by_commas_or_spaces_and_refuses_others() -> None:
    from bot.errors import UserError
    from bot.ui.options import cleared_options

    assert cleared_options(" Mention, max_size  exclude", ("mention", "max_size", "exclude")) == [
        "mention",
        "max_size",
        "exclude",
    ]
    assert cleared_options(None, ("mention",)) == []
    with pytest.raises(UserError) as refused:
        cleared_options("mention, channel", ("mention", "max_size"))
    assert refused.value.key == "alert.error.bad_clear"
    assert refused.value.values["options"] == "mention, max_size"
