# utlegg-gateway: the daemon (`run`) in a slim image, as a non-root user.
#
#   docker build -t utlegg-gateway .
#   docker run -d --name utlegg --stop-timeout 45 \
#     -v /srv/utlegg/config:/config:ro -v /srv/utlegg/secrets:/secrets:ro \
#     -v /mnt/share/inbox:/data/inbox -v /mnt/share/outbox:/data/outbox \
#     -v /srv/utlegg/archive:/data/archive -v /srv/utlegg/failed:/data/failed \
#     -v /srv/utlegg/state:/data/state \
#     -p 127.0.0.1:9108:9108 utlegg-gateway
#
# /config/config.yaml: start from config.container.yaml, whose paths are these volumes.
# The shipped mappings are inside the package; a site's own go in /config/mappings.
# State (journal, lock) is /data/state: a LOCAL, writable volume (SQLite WAL does not work
# over NFS/SMB), never under the read-only /config. work/ must be on the inbox's file
# system (claims are renames): config.container.yaml keeps it in /data/inbox/.work.
# --stop-timeout (compose: stop_grace_period) must exceed runner.shutdown_grace_seconds
# (30 s in config.container.yaml): SIGTERM drains the calls in flight, then exits 0.
# The wheel is installed without the [sandbox] extra: no test servers in the production
# image. `--build-arg EXTRAS=[sandbox]` builds the image compose.yaml's sandbox runs.
# See docs/operations.md ("Docker").
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# Built into the wheel as package data (pyproject.toml: force-include).
COPY mappings ./mappings
RUN python -m pip install --no-cache-dir --upgrade pip \
 && python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# /creds: only for compose.yaml's try profile (the sandbox's throwaway credentials).
ARG EXTRAS=""
# No .pyc writes into the image at run time; logs unbuffered (JSON lines to stdout/stderr).
# The health endpoint's host and port come from the environment, which overrides the
# configuration file, so the HEALTHCHECK below and the gateway always agree.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UTLEGG_GATEWAY__HEALTH__HOST=0.0.0.0 \
    UTLEGG_GATEWAY__HEALTH__PORT=9108
COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir "$(ls /wheels/utlegg_gateway-*.whl)${EXTRAS}" \
 && rm -rf /wheels \
 && groupadd --system --gid 10001 utlegg \
 && useradd --system --uid 10001 --gid utlegg --home-dir /data --shell /usr/sbin/nologin utlegg \
 && mkdir -p /data/inbox/.work /data/outbox /data/archive /data/failed /data/state /config /secrets /creds \
 && chown -R utlegg:utlegg /data /creds
USER utlegg
WORKDIR /data
VOLUME ["/data/inbox", "/data/outbox", "/data/archive", "/data/failed", "/data/state"]
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
  CMD python -c "import os,sys,urllib.request as u; p=os.environ.get('UTLEGG_GATEWAY__HEALTH__PORT','9108'); sys.exit(0 if u.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4).status == 200 else 1)"
STOPSIGNAL SIGTERM
ENTRYPOINT ["utlegg-gateway"]
CMD ["run", "--config", "/config/config.yaml"]
