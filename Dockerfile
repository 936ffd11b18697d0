# meta_db image: builds the binary and the dashboard on Debian bookworm, then ingests the mounted archive
# (/usr/local/share/LIDC-IDRI-DICOM, read-only) and serves the API and dashboard on port 8000.
# node:20-bookworm is Debian bookworm with Node.js 20 (the dashboard's Vite 7 needs Node >= 20; bookworm's own
# nodejs is 18); every other dependency comes from Debian's packages through scripts/bootstrap.sh.
FROM node:20-bookworm
ENV DEBIAN_FRONTEND=noninteractive META_DB_WITH_BROWSER=0
WORKDIR /opt/meta_db
COPY scripts/bootstrap.sh scripts/bootstrap.sh
RUN scripts/bootstrap.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN rm -rf build && CMAKE_ARGS=-DMETA_DB_TESTS=OFF scripts/build.sh
VOLUME ["/data"]
EXPOSE 8000
# The container must listen on all interfaces for port publishing; docker-compose maps it to 127.0.0.1 only.
# README command 1: ingests the mounted archive (or a generated demo archive when none is mounted), then serves.
ENV META_DB_URI=sqlite:/data/meta_db.sqlite META_DB_HOST=0.0.0.0 META_DB_PORT=8000 \
    META_DB_DEMO_ARCHIVE=/data/demo-archive
CMD ["scripts/run.sh"]
