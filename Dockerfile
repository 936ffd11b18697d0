# meta_db image, two stages on Debian bookworm.
#   build:   node:20-bookworm (bookworm + Node.js 20: the dashboard's Vite 7 needs Node >= 20, bookworm's own nodejs
#            is 18); every other build dependency comes from Debian through scripts/bootstrap.sh.
#   runtime: debian:bookworm-slim with only the shared libraries the binary and its two modules (DICOM, MongoDB) load.
# Usage (see docker-compose.yml for the MongoDB set-up):
#   docker build -t meta_db .
#   docker run --init -p 127.0.0.1:8000:8000 -v /usr/local/share/LIDC-IDRI-DICOM:/usr/local/share/LIDC-IDRI-DICOM:ro \
#              -v meta_db_data:/data -e META_DB_ADMIN_TOKEN meta_db   # ingest (a demo archive if none is mounted), serve
#   (the server refuses to listen beyond loopback without META_DB_ADMIN_TOKEN: docs/security.md)
#   docker run --rm -v meta_db_data:/data meta_db stats  # any other first argument is a meta_db sub-command
# The container listens on all its interfaces (port publishing needs it); publish it on 127.0.0.1 as above.

FROM node:20-bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive META_DB_WITH_BROWSER=0
WORKDIR /src
COPY scripts/bootstrap.sh scripts/bootstrap.sh
RUN scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# build/meta_db, its modules build/meta_db_dicom.so and build/meta_db_mongo.so, dashboard/dist and
# src/db_api/swagger/node_modules/swagger-ui-dist.
# Debug info is stripped (symbols stay, so backtraces still name functions): it is most of the binaries' size.
RUN CMAKE_ARGS=-DMETA_DB_TESTS=OFF scripts/build.sh \
 && strip --strip-debug build/meta_db build/meta_db_dicom.so build/meta_db_mongo.so

FROM debian:bookworm-slim AS runtime
# Shared libraries only (what `ldd build/meta_db build/meta_db_dicom.so build/meta_db_mongo.so` lists; tests/deploy
# checks it):
#   libdcmtk17          DCMTK, loaded by the DICOM module (brings libxml2, libpng16-16, libtiff6, libssl3, libwrap0)
#   libboost-json1.81.0 Boost.JSON (binary and modules), with libboost-container1.81.0 it links; Boost.URL and SQLite are linked statically, spdlog/fmt and
#                       CLI11 are header-only
#   libmongoc-1.0-0 libbson-1.0-0   the MongoDB back-end, loaded by the MongoDB module (brings libsasl2-2, libssl3,
#                       libsnappy1v5, libzstd1, libicu72, libmongocrypt0)
#   ca-certificates     TLS to a MongoDB server (tls=true, mongodb+srv://)
#   libxml2             LIDC reader XML (LidcReadMessage) parsing in ingest (docs/annotations.md)
#   libsodium23         API token hashes (the server refuses to bind beyond loopback without META_DB_ADMIN_TOKEN)
# No curl: the HEALTHCHECK below speaks HTTP with bash alone.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libdcmtk17 libboost-json1.81.0 libboost-container1.81.0 libmongoc-1.0-0 libbson-1.0-0 libsodium23 \
      libxml2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 meta_db \
 && useradd --uid 10001 --gid meta_db --home-dir /data --no-create-home --shell /usr/sbin/nologin meta_db \
 && mkdir -p /data && chown meta_db:meta_db /data

# The DICOM and MongoDB modules are loaded from beside the executable, so all three go to the same directory.
COPY --from=build /src/build/meta_db /src/build/meta_db_dicom.so /src/build/meta_db_mongo.so /opt/meta_db/bin/
COPY --from=build /src/dashboard/dist /opt/meta_db/dashboard/dist
COPY --from=build /src/src/db_api/swagger/node_modules/swagger-ui-dist /opt/meta_db/swagger-ui-dist
# The shipped tag profiles (also compiled in): a template for `--profile DIR` overrides (META_DB_PROFILE).
COPY profiles /opt/meta_db/profiles
COPY scripts/container-entrypoint.sh /usr/local/bin/meta_db-entrypoint

ENV PATH=/opt/meta_db/bin:$PATH \
    META_DB_URI=sqlite:/data/meta_db.sqlite \
    META_DB_ARCHIVE=/usr/local/share/LIDC-IDRI-DICOM/ \
    META_DB_DEMO_ARCHIVE=/data/demo-archive \
    META_DB_HOST=0.0.0.0 \
    META_DB_PORT=8000 \
    META_DB_WEB_ROOT=/opt/meta_db/dashboard/dist \
    META_DB_SWAGGER_DIR=/opt/meta_db/swagger-ui-dist
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# GET /health answers 200 when ready and 503 when the database is unreachable; anything but 200 is unhealthy.
# While the default command is still ingesting, nothing listens yet and the container reports "starting"/"unhealthy".
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/${META_DB_PORT:-8000} && printf "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3 && read -r -t 4 _ code _ <&3 && [ "$code" = 200 ] || exit 1'
ENTRYPOINT ["/usr/local/bin/meta_db-entrypoint"]
CMD []
