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
RUN rm -rf build && scripts/build.sh
VOLUME ["/data"]
EXPOSE 8000
ENV META_DB_URI=sqlite:/data/meta_db.sqlite
# The container must listen on all interfaces for port publishing; docker-compose maps it to 127.0.0.1 only.
CMD ["sh", "-c", "build/meta_db ingest /usr/local/share/LIDC-IDRI-DICOM/ --collection LIDC-IDRI && exec build/meta_db serve --host 0.0.0.0 --port 8000 --web-root dashboard/dist"]
