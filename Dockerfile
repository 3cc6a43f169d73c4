# utlegg-gateway: the daemon (`run`) in a slim image, as a non-root user.
#
#   docker build -t utlegg-gateway .
#   docker run -d --name utlegg \
#     -v /srv/utlegg/config:/config:ro -v /srv/utlegg/secrets:/secrets:ro \
#     -v /mnt/share/inbox:/data/inbox -v /mnt/share/outbox:/data/outbox \
#     -v /srv/utlegg/archive:/data/archive -v /srv/utlegg/state:/data/state \
#     -p 127.0.0.1:9108:9108 utlegg-gateway
#
# The journal (/data/state) must be a LOCAL volume: SQLite WAL does not work over NFS/SMB.
# work/ must be on the inbox's file system (claims are renames): keep it inside /data/inbox
# (inboxes[].work) or on the same mount. See docs/operations.md.
# The wheel is installed without the [sandbox] extra: no test servers in the production image.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# No .pyc writes into the image at run time; logs unbuffered (JSON lines to stdout/stderr).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UTLEGG_GATEWAY__HEALTH__HOST=0.0.0.0
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
 && groupadd --system --gid 10001 utlegg \
 && useradd --system --uid 10001 --gid utlegg --home-dir /data --shell /usr/sbin/nologin utlegg \
 && mkdir -p /data/inbox /data/outbox /data/archive /data/failed /data/state /config /secrets \
 && chown -R utlegg:utlegg /data
# The shipped mappings; a site's own go in /config/mappings (runner.mapping_dirs).
COPY --chown=root:root mappings /app/mappings
USER utlegg
WORKDIR /data
VOLUME ["/data/inbox", "/data/outbox", "/data/archive", "/data/failed", "/data/state"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9108/healthz', timeout=4).status == 200 else 1)"
# SIGTERM (docker stop) finishes the calls in flight and exits 0: give it the grace period.
STOPSIGNAL SIGTERM
ENTRYPOINT ["utlegg-gateway"]
CMD ["run", "--config", "/config/config.yaml"]
