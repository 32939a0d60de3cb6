# syntax=docker/dockerfile:1
# Multi-stage build: compile in the Rust image, run from a slim Debian as a non-root user.
FROM rust:1-bookworm AS build
# SAML (feature `saml`) builds against libxml2 and xmlsec1 through bindgen.
RUN apt-get update && apt-get install -y --no-install-recommends \
    libclang-dev libxmlsec1-dev libxml2-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p neoforge-server --features saml && strip target/release/neoforge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    libxmlsec1 libxmlsec1-openssl libxml2 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home neoforge
COPY --from=build /src/target/release/neoforge /usr/local/bin/neoforge
USER neoforge
WORKDIR /data
VOLUME /data
ENV NEOFORGE_LISTEN=0.0.0.0:8080 \
    NEOFORGE_DATABASE_URL=sqlite:/data/neoforge.db \
    NEOFORGE_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=2s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080"]
ENTRYPOINT ["neoforge"]
CMD ["serve"]
