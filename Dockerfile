# The worker: `python -m worker run`. No migration runs at build or start: the schema is
# deployed with the Supabase CLI (README, "Operating").

# The worker's hot modules compiled with mypyc (worker/compiled.py; BENCHMARKS.md, "Compiled hot
# modules"): in a stage of their own, so the image keeps no C compiler.
# scripts/compile.py is what tests/test_compiled.py runs; mypy is the version it is tested with.
FROM python:3.11-slim-bookworm AS compiled
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY scripts/compile.py ./scripts/compile.py
RUN pip install --no-compile --no-cache-dir . "mypy==2.4.1" \
 && python scripts/compile.py /src

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROXIMA_ENV=production

# The PDF's faces (worker/export/fonts.py): Latin/Greek/Cyrillic, Arabic, Hebrew,
# Devanagari, Thai, Hangul, Chinese/Japanese, symbols and emoji.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      fonts-dejavu-core fonts-noto-core fonts-nanum fonts-droid-fallback fonts-symbola \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
# The sources with their compiled modules beside them, and the C they share: `python -m
# worker` from /app imports these before the copy pip installs.
COPY --from=compiled /src/worker ./worker
COPY --from=compiled /src/*__mypyc.*.so ./
COPY supabase/migrations ./supabase/migrations
RUN pip install --no-compile . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin proxima \
 && mkdir -p /app/exports && chown proxima /app/exports

USER proxima

# With PORT set (Railway sets it), GET /health and GET /metrics are served there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import os,sys,urllib.request; p=os.environ.get('PORT'); sys.exit(0 if not p else urllib.request.urlopen(f'http://127.0.0.1:{p}/health', timeout=4).status != 200)"

# exec form: the worker is PID 1's only child and receives SIGTERM itself.
ENTRYPOINT ["python", "-m", "worker"]
CMD ["run"]
