# The Vantage agent as a FROM scratch image: one static (musl) binary with the dashboard
# embedded, run as an unprivileged user. Nothing is pulled: build it with
#   ./scripts/build-image.sh            (compiles the binary, then docker build)
# The build context holds only the binary and an empty data directory (.dockerignore).
FROM scratch
COPY target/x86_64-unknown-linux-musl/release/vantage /vantage
# An empty /data owned by the agent's user, so a new named volume starts out writable.
COPY --chown=65532:65532 deploy/docker/data/ /data/
# scratch has no /etc/passwd: a numeric, unprivileged user. To read the Docker socket it
# needs the socket's group (compose.yaml: group_add).
USER 65532:65532
ENV VANTAGE_LISTEN=0.0.0.0:8787 \
    VANTAGE_DATA_DIR=/data \
    VANTAGE_DOCKER_HOST=unix:///var/run/docker.sock \
    SQLITE_TMPDIR=/data
VOLUME ["/data"]
EXPOSE 8787
# scratch has no curl: the binary asks itself (GET /api/health on VANTAGE_LISTEN).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["/vantage", "health"]
ENTRYPOINT ["/vantage"]
CMD ["serve"]
