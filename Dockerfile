# Linkage's API and worker (one image, two commands): see docker-compose.yml.
# Dependencies come from uv.lock exactly (--locked), without the dev group.

FROM python:3.11.11-slim-bookworm AS build
# The uv that wrote uv.lock; from PyPI like every other dependency.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY . .
RUN uv sync --locked --no-dev
# The project's own bytecode too (UV_COMPILE_BYTECODE covers only the dependencies): the code is
# read-only at run time, and the workflow sandbox imports workflows/ afresh for every workflow.
RUN .venv/bin/python -m compileall -q -x '/\.venv/' /app

FROM python:3.11.11-slim-bookworm
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LINKAGE_DATA_DIR=/var/lib/linkage \
    LINKAGE_API_HOST=0.0.0.0
# The code stays root-owned and read-only to the service user; only its data dir is writable.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/linkage --create-home \
        --shell /usr/sbin/nologin linkage
COPY --from=build /app /app
WORKDIR /app
USER linkage
EXPOSE 8000
CMD ["linkage", "api", "--host", "0.0.0.0", "--port", "8000"]
