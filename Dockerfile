# syntax=docker/dockerfile:1
# Images for peerop-server and peerop-operator (no container engine on the
# development machines: this file is written to be built in CI elsewhere):
#   docker build --target server   -t peerop-server:0.1.0 .
#   docker build --target operator -t peerop-operator:0.1.0 .
# Both run as UID 65532 with nothing but the program and its shared
# libraries; the chart sets a read-only root filesystem on top.

FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential autoconf automake libtool pkg-config \
      libcurl4-openssl-dev libjansson-dev libyaml-dev libssl-dev libmicrohttpd-dev check \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN autoreconf -fi \
 && ./configure --prefix=/usr --disable-static \
 && make -j"$(nproc)" \
 && make install DESTDIR=/out \
 && rm -rf /out/usr/include /out/usr/lib/*/pkgconfig /out/usr/lib/pkgconfig /out/usr/lib/*.la

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcurl4 libjansson4 libyaml-0-2 libssl3 libmicrohttpd12 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd -g 65532 nonroot && useradd -u 65532 -g 65532 -M -s /usr/sbin/nologin nonroot
COPY --from=build /out/usr/lib/ /usr/lib/
RUN ldconfig
USER 65532:65532

FROM runtime AS server
COPY --from=build /out/usr/bin/peerop-server /usr/bin/peerop-server
EXPOSE 8080
ENTRYPOINT ["/usr/bin/peerop-server"]

FROM runtime AS operator
COPY --from=build /out/usr/bin/peerop-operator /usr/bin/peerop-operator
EXPOSE 8081
ENTRYPOINT ["/usr/bin/peerop-operator"]
