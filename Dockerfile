FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/vigie.sqlite3 \
    # The health endpoint is on in the image (HEALTHCHECK below); loopback only unless
    # HEALTH_HOST=0.0.0.0 lets a Prometheus on the container network scrape /metrics.
    HEALTH_PORT=8080 \
    HEALTH_HOST=127.0.0.1

WORKDIR /app

# 1. Dependencies, from pyproject.toml alone: this layer is rebuilt only when the
#    dependencies change, never for a change of Vigie's code.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt \
    && useradd --system --uid 10001 --home /data vigie \
    && mkdir -p /data && chown vigie /data

# 2. Vigie itself (seconds: its dependencies are already there).
COPY README.md alembic.ini ./
COPY bot ./bot
COPY cogs ./cogs
COPY migrations ./migrations
RUN pip install --no-deps '.[postgres]'

USER vigie
VOLUME ["/data"]
EXPOSE 8080
# Alive = the process answers /healthz (a standby replica is alive, just not ready:
# /readyz tells the difference). urllib: no curl in a slim image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=4)" || exit 1
# The bot applies migrations at start; `vigie db upgrade` does it alone (compose.yaml runs
# it once before the replicas start).
CMD ["vigie"]
