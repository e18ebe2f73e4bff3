# syntax=docker/dockerfile:1
# Images for peerop-server and peerop-operator. scripts/images.sh builds both
# with podman (and a local base image when no registry is reachable); any
# engine builds them from this file alone:
#   docker build --target server   -t peerop-server:0.1.0 .
#   docker build --target operator -t peerop-operator:0.1.0 .
#
# The runtime images are distroless-style: the program, the shared libraries
# it loads, CA certificates, passwd/group entries for 65532, and nothing else
# (no shell, no package manager). scripts/image-rootfs.sh derives the library
# list with ldd in the build stage and proves it complete there; the
# binaries are hardened (configure.ac) and tests/hardening-test.sh checks
# them before they are copied. Both run as UID 65532; the chart adds a
# read-only root filesystem and drops every capability.

# The base of the build stage: the public Debian image by default;
# scripts/images.sh passes a local debootstrap of the same release when no
# registry is reachable.
ARG BASE=docker.io/library/debian:12-slim
# OCI labels (scripts/images.sh fills them from configure.ac and git)
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://example.invalid/libpeerop

FROM ${BASE} AS build
# check and GnuTLS are test-only dependencies, but configure asks for them
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      gcc make autoconf automake libtool pkg-config binutils ca-certificates \
      libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libmicrohttpd-dev \
      libgnutls28-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Only the library and the programs (the local control plane, tests and
# benchmarks are not in the images), installed into the stage's own /usr so
# that ldd resolves libpeerop like every other library.
RUN autoreconf -fi \
 && ./configure -q --prefix=/usr --disable-static \
 && make -j"$(nproc)" -C base \
 && make -j"$(nproc)" -C lib \
 && make -j"$(nproc)" -C examples \
 && make -C lib install-libLTLIBRARIES \
 && make -C examples install-binPROGRAMS \
 && ldconfig \
 && tests/hardening-test.sh /usr/bin/peerop-server /usr/bin/peerop-operator /usr/lib/libpeerop.so.0 \
 && scripts/image-rootfs.sh /usr/bin/peerop-server /rootfs/server \
 && scripts/image-rootfs.sh /usr/bin/peerop-operator /rootfs/operator

FROM scratch AS server
ARG VERSION
ARG REVISION
ARG SOURCE
COPY --from=build /rootfs/server/ /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/bin/peerop-server"]
LABEL org.opencontainers.image.title="peerop-server" \
      org.opencontainers.image.description="libpeerop's reference HTTP server: answers /ping, pings its peers" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

FROM scratch AS operator
ARG VERSION
ARG REVISION
ARG SOURCE
COPY --from=build /rootfs/operator/ /
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/bin/peerop-operator"]
LABEL org.opencontainers.image.title="peerop-operator" \
      org.opencontainers.image.description="libpeerop's reference operator: runs HTTPServers" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
