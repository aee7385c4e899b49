# logclass: the HTTP service on CPU. Build: docker build -t logclass .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first and from the CPU index, pinned: any other spec pulls a multi-GB CUDA build.
# Its own layer, so code changes do not re-download it.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /srv/logclass
# Only what the package needs (no .venv, tests or caches in the image).
COPY pyproject.toml README.md ./
COPY app ./app
COPY processors ./processors
COPY monitoring ./monitoring
RUN pip install . \
    && useradd --system --create-home --uid 10001 logclass \
    && mkdir -p /var/cache/logclass \
    && chown logclass /var/cache/logclass

USER logclass
# the ONNX encoder exported at build time (into ~/.cache/logclass), so no start pays it
RUN python -m processors.encoders export >/dev/null
ENV LOGCLASS_HOST=0.0.0.0 \
    LOGCLASS_PORT=8000 \
    LOGCLASS_CACHE_DIR=/var/cache/logclass \
    LOGCLASS_BERT_WARMUP=true
EXPOSE 8000
VOLUME ["/var/cache/logclass"]

# slim has no curl: ask with the Python that is already here. /health/ready answers 503
# (urlopen raises) while a tier the routes need cannot work, e.g. a model that failed to load;
# the warm-up above loads it before the port opens, so that is known from the first check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health/ready', timeout=4)"]

# 0.0.0.0 inside the container, so that a published port reaches it; what is exposed is
# decided by how it is published. Classify and ingest are open unless LOGCLASS_API_TOKEN is
# set, so publish on loopback (docker run -p 127.0.0.1:8000:8000 logclass), or set
# LOGCLASS_API_TOKEN and list the names clients use in LOGCLASS_ALLOWED_HOSTS (default:
# localhost, 127.0.0.1, [::1]). SECURITY.md, "Exposure", says more.
CMD ["logclass", "serve", "--host", "0.0.0.0"]
