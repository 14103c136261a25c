# syntax=docker/dockerfile:1
# The one `faro` binary in a small non-root image; every process (shuffle
# service, scheduler, worker) runs from it with a different subcommand.
#
#   docker build -t ghcr.io/faro-dataflow/faro:0.1.0 .
#   docker build --build-arg FARO_FEATURES=faro-shuffle/s3 -t ...   # S3 tier
#
# deploy/kubernetes/ runs this image; deploy/README.md has the details.

FROM rust:1-slim-bookworm AS builder
# ring (TLS, job tokens) compiles C; the slim Rust image already ships the
# gcc and libc6-dev it needs, and nothing links a system library, so no
# other packages are installed.
WORKDIR /src
# Cargo features to build with, e.g. `faro-shuffle/s3` for an S3 tier.
ARG FARO_FEATURES=""
COPY . .
# The cache mounts keep downloaded crates and compiled dependencies between
# builds, so a source change does not rebuild the whole tree. `target/` is a
# cache mount and vanishes after this step, hence the copy out of it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin faro ${FARO_FEATURES:+--features "$FARO_FEATURES"} \
    && cp target/release/faro /usr/local/bin/faro

FROM debian:bookworm-slim
# Faro's own peers use the cluster CA from the identity secret; the system
# roots are for an object-store tier reached over HTTPS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so Kubernetes `runAsUser`/`fsGroup` and file ownership on
# volumes agree with the image.
RUN groupadd --system --gid 10001 faro \
    && useradd --system --uid 10001 --gid faro --home-dir /var/lib/faro \
       --no-create-home --shell /usr/sbin/nologin faro \
    && mkdir -p /etc/faro /var/lib/faro \
    && chown faro:faro /var/lib/faro
COPY --from=builder /usr/local/bin/faro /usr/local/bin/faro
# Scheduler REST (TCP) and control (UDP); shuffle QUIC; worker data QUIC;
# /metrics and /healthz of the shuffle service and workers.
EXPOSE 7070/tcp 7070/udp 7077/udp 7080/udp 9464/tcp
# Numeric, so `runAsNonRoot` can verify it without reading /etc/passwd.
USER 10001
WORKDIR /var/lib/faro
ENTRYPOINT ["/usr/local/bin/faro"]
CMD ["--help"]
