# The monitor's image: `aiops-maturity serve` on port 9464.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # litellm (a dependency) must not fetch its price map from the internet at import time
    LITELLM_LOCAL_MODEL_COST_MAP=True

WORKDIR /app
# The package with its dependencies (pyproject.toml); tests, benchmarks and dashboards stay out.
COPY pyproject.toml README.md ./
COPY metrics ./metrics
COPY signals ./signals
COPY collectors ./collectors
COPY monitor ./monitor
# The postgres extra (psycopg) lets the same image keep its history in PostgreSQL (AIOPS_STORE_URL;
# deploy/kubernetes/overlays/replicas). The brackets, a shell glob, match no file in /app.
RUN pip install .[postgres]

RUN useradd --system --uid 10001 --home-dir /data aiops \
    && mkdir -p /data /etc/aiops && chown aiops /data
USER aiops
# Relative paths (the defaults sqlite:///aiops-data/history.db, digest.out_dir aiops-data/digests)
# land on the volume, never in /app, which aiops cannot write (read-only in Kubernetes: deploy/kubernetes).
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9464

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["aiops-maturity"]
CMD ["serve", "--config", "/etc/aiops/monitor.yaml"]
