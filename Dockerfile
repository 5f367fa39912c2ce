# One image for every Sentinel process. By default it is Sentinel on one box: the release step, then
# web, worker and beat under one supervisor (python -m sentinel_project.allinone; docs/deploying.md).
# Scaled out, the command picks one process (see docker-compose.yml):
#   python -m sentinel_project.procfile web|worker|beat|flower|release
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SENTINEL_VAR_DIR=/app/var \
    PORT=8000

WORKDIR /app

# Dependencies first, from empty packages: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml README.md ./
RUN mkdir -p sentinel_project alerts schedules \
    && touch sentinel_project/__init__.py alerts/__init__.py schedules/__init__.py \
    && pip install . \
    && pip uninstall -y sentinel \
    && rm -rf sentinel_project alerts schedules build *.egg-info

COPY . .
# Editable: the code runs from /app (one copy), and the `sentinel` console script exists.
RUN pip install --no-deps -e . \
    && groupadd --system --gid 10001 sentinel \
    && useradd --system --uid 10001 --gid sentinel --home-dir /app --shell /usr/sbin/nologin sentinel \
    && mkdir -p /app/var \
    && SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0 \
    && chown -R sentinel:sentinel /app/var

USER sentinel
EXPOSE 8000

# Liveness of the web process (in the all-in-one, a worker or beat exiting stops the container);
# compose gives worker and beat health checks of their own.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=4)"

# `docker run` of the image alone schedules and runs alerts, as SQL Sentinel's daemon did. Give
# `docker stop --time 60` (or more) so a running query can finish (SENTINEL_ALL_IN_ONE_GRACE, 30 s).
CMD ["python", "-m", "sentinel_project.allinone"]
