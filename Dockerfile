# DriftGuard server image: a build stage that resolves the locked dependencies with uv, and a slim
# runtime stage that runs as an unprivileged user. Build: docker build -t driftguard .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/opt/driftguard \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first, in their own layer: they change less often than the code.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# postgresql-client provides pg_dump / pg_restore for `driftguard backup` and `restore`; pango
# (with a font) lets WeasyPrint render the evidence pack's PDF. Debian revisions are not pinned:
# they leave the archive when superseded, and rebuilding the image is how security fixes arrive.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
       libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 driftguard \
    && useradd --system --uid 10001 --gid driftguard --home-dir /var/lib/driftguard \
       --create-home --shell /usr/sbin/nologin driftguard
COPY --from=build /opt/driftguard /opt/driftguard
ENV PATH=/opt/driftguard/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DRIFTGUARD_HOST=0.0.0.0 \
    DRIFTGUARD_PORT=8000 \
    DRIFTGUARD_DATABASE_URL=sqlite:////var/lib/driftguard/driftguard.db
USER 10001:10001
WORKDIR /var/lib/driftguard
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
ENTRYPOINT ["driftguard"]
CMD ["serve"]
