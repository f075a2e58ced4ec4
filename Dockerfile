# One image recipe for all five services; the service is chosen at build time:
#
#   docker build --build-arg SERVICE=intake --build-arg PORT=8001 -t aftersales-intake .
#
# SERVICE is one of intake, dispatch, parts, claims, billing; PORT is that service's port
# (intake 8001, dispatch 8002, parts 8003, claims 8004, billing 8005) and only documents it
# (EXPOSE, the health check); the build stops if the two do not belong together.
# docker-compose.yml builds all five.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The dependencies first, from pyproject.toml alone: this layer is shared by the five
# images and rebuilt only when the dependencies change, not on every change to the code.
COPY pyproject.toml /tmp/src/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/src/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Then the project itself: a regular (not editable) install, so the package data the
# services need at run time (Alembic's *.mako and migrations, event snapshots *.json) is
# installed with it. The sources are removed afterwards, so nothing shadows site-packages.
COPY shared/ /tmp/src/shared/
COPY services/ /tmp/src/services/
RUN pip install --no-deps /tmp/src && rm -rf /tmp/src

# Relative paths in the settings (data/auth/signing-key.pem, data/prometheus/<service>)
# land under /app/data. It belongs to the service user, and so does a fresh named volume
# mounted at /app/data/auth, which copies the ownership of the directory it covers.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin aftersales \
    && mkdir -p /app/data/auth /app/data/intake \
    && chown -R aftersales:aftersales /app
WORKDIR /app

# Every service listens on all interfaces inside a container (the settings default to
# 127.0.0.1). Each service reads only the variable with its own prefix.
ENV INTAKE_HOST=0.0.0.0 \
    DISPATCH_HOST=0.0.0.0 \
    PARTS_HOST=0.0.0.0 \
    CLAIMS_HOST=0.0.0.0 \
    BILLING_HOST=0.0.0.0

# Declared late so that the layers above are the same for all five services.
ARG SERVICE
ARG PORT
RUN test -n "${SERVICE}" && test -n "${PORT}" \
        || { echo "build with --build-arg SERVICE=<intake|dispatch|parts|claims|billing> --build-arg PORT=<its port>" >&2; exit 1; } \
    && python -c "from shared.cli.suite import load_definition; port = load_definition('${SERVICE}').settings_class.model_fields['port'].default; assert port == int('${PORT}'), f'${SERVICE} listens on {port}, not on ${PORT}'"
ENV SERVICE=${SERVICE} \
    PORT=${PORT}
EXPOSE ${PORT}

USER aftersales

# Liveness only; docker-compose.yml checks readiness (/ready) instead. A port set at run
# time through <SERVICE>_PORT is followed. No curl in the slim image: Python asks.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os, urllib.request; port = os.environ.get(os.environ['SERVICE'].upper() + '_PORT', os.environ['PORT']); urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4)"

# Migrates the service's database (waiting for it), then starts uvicorn. Shell form so
# that $SERVICE expands; exec so that the service is PID 1 and receives SIGTERM.
CMD exec aftersales serve "$SERVICE"
