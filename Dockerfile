FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/vigie.sqlite3

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY cogs ./cogs
COPY migrations ./migrations
RUN pip install '.[postgres]' \
    && useradd --system --uid 10001 --home /data vigie \
    && mkdir -p /data && chown vigie /data

USER vigie
VOLUME ["/data"]
# The bot applies migrations at start; `vigie db upgrade` does it alone.
CMD ["vigie"]
