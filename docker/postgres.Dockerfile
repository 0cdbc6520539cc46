# PostgreSQL 15 from Debian's own package, on the same local Debian 12 base as
# docker/Dockerfile: for machines with no image registry (scripts/test-container.sh
# and docker/compose.local.yaml use it). It takes the environment of the
# official postgres image that docker/compose.yaml sets (POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB) and keeps its data in the same place.
#
#   podman build --format docker --build-arg DEBIAN_IMAGE=localhost/debian:12-slim \
#     -f docker/postgres.Dockerfile -t localhost/kmsgate-postgres:15 .

ARG DEBIAN_IMAGE=debian:12-slim
FROM ${DEBIAN_IMAGE}
# postgresql-common would create a cluster at install time; the entrypoint
# makes one in the data volume on first start instead.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-common \
 && sed -i 's/^#\?create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data \
 && install -d -o postgres -g postgres -m 2775 /var/run/postgresql

COPY docker/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data
USER postgres
EXPOSE 5432
VOLUME /var/lib/postgresql/data
# SIGINT is PostgreSQL's "fast" shutdown: sessions are ended, nothing is lost.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=5s --start-period=20s --retries=12 \
  CMD ["pg_isready", "-h", "127.0.0.1", "-q"]
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]
