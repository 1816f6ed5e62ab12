# PostgreSQL from Debian's packages, on an empty base: rootfs.tar.gz is
# made by postgres-rootfs.sh, with a cluster already initialised.
FROM scratch
ADD rootfs.tar.gz /
ENV PATH=/usr/lib/postgresql/{{.Major}}/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
USER postgres
EXPOSE 5432
# SIGINT is PostgreSQL's fast shutdown: sessions end and a checkpoint is
# written, so a stopped container starts again without recovery.
STOPSIGNAL SIGINT
CMD ["postgres"]
LABEL {{.Label}}="{{.Repo}}"
