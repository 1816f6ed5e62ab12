#!/usr/bin/env bash
# Builds the root filesystem of the e2e PostgreSQL image from Debian's
# packages, because this project's machines reach no container registry.
# The harness (images.go) runs it once per machine and caches the result.
#
# Usage: postgres-rootfs.sh OUT.tar.gz SUITE PG_MAJOR MIRROR
#   OUT.tar.gz  archive to write (written whole or not at all)
#   SUITE       Debian suite, e.g. bookworm
#   PG_MAJOR    PostgreSQL major version packaged in that suite, e.g. 15
#   MIRROR      Debian mirror, e.g. http://deb.debian.org/debian
# Environment:
#   E2E_PG_PASSWORD  password of the "postgres" role (required)
#
# It needs root (debootstrap and chroot) and installs debootstrap on the
# host with apt-get when it is missing.
set -euo pipefail

usage="usage: postgres-rootfs.sh OUT.tar.gz SUITE PG_MAJOR MIRROR"
out=${1:?$usage}
suite=${2:?$usage}
pg_major=${3:?$usage}
mirror=${4:?$usage}
password=${E2E_PG_PASSWORD:?E2E_PG_PASSWORD must be set}

if [[ $(id -u) -ne 0 ]]; then
	echo "postgres-rootfs.sh: needs root for debootstrap and chroot" >&2
	exit 1
fi

if ! command -v debootstrap >/dev/null; then
	echo "postgres-rootfs.sh: installing debootstrap" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/iam-e2e-rootfs.XXXXXX")
root=$work/root

cleanup() {
	# A failed step must not leave /proc mounted in a folder we delete.
	if mountpoint -q "$root/proc" 2>/dev/null; then
		umount "$root/proc" || umount -l "$root/proc" || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

echo "postgres-rootfs.sh: debootstrap $suite from $mirror"
debootstrap --variant=minbase "$suite" "$root" "$mirror"

# Packages must not start services inside the chroot, and the cluster is
# made below with our own settings rather than Debian's "main" cluster.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common"
echo 'create_main_cluster = false' \
	>"$root/etc/postgresql-common/createcluster.conf"

# Documentation and translations are of no use in a test image, nor is
# the JIT compiler (LLVM is most of the size): it is switched off below.
cat >"$root/etc/dpkg/dpkg.cfg.d/iam-e2e-slim" <<'CFG'
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-exclude=/usr/lib/*/libLLVM-*
path-exclude=/usr/lib/*/libz3.so*
path-exclude=/usr/lib/postgresql/*/lib/llvmjit*
path-exclude=/usr/lib/postgresql/*/lib/bitcode/*
CFG

mount -t proc proc "$root/proc"

echo "postgres-rootfs.sh: installing postgresql-$pg_major"
chroot "$root" apt-get update -qq
chroot "$root" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -qq --no-install-recommends \
	"postgresql-$pg_major"

pgdata=/var/lib/postgresql/data
bindir=/usr/lib/postgresql/$pg_major/bin

printf '%s\n' "$password" >"$root/tmp/pwfile"
chmod 0644 "$root/tmp/pwfile"
chroot --userspec=postgres:postgres "$root" "$bindir/initdb" \
	--pgdata="$pgdata" \
	--username=postgres \
	--pwfile=/tmp/pwfile \
	--auth-local=trust \
	--auth-host=scram-sha-256 \
	--encoding=UTF8 \
	--locale=C.UTF-8
rm -f "$root/tmp/pwfile"

# SpiceDB's Watch API needs commit timestamps; the other containers of
# the private network reach the server by its name, so it listens on all
# of the container's interfaces.
cat >>"$root$pgdata/postgresql.conf" <<CONF

# Settings of the iam e2e image.
listen_addresses = '*'
track_commit_timestamp = on
unix_socket_directories = '/var/run/postgresql'
dynamic_shared_memory_type = posix
jit = off
CONF

# Password logins only over TCP; the local socket stays trusted so that
# pg_isready and psql work through docker exec.
cat >"$root$pgdata/pg_hba.conf" <<HBA
local all all trust
host all all 0.0.0.0/0 scram-sha-256
host all all ::/0 scram-sha-256
HBA

mkdir -p "$root/var/run/postgresql"
chroot "$root" chown postgres:postgres /var/run/postgresql

umount "$root/proc"
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin

# The archive is written beside its final name and renamed, so a reader
# never sees half a file.
echo "postgres-rootfs.sh: writing $out"
tar --numeric-owner \
	--exclude='./dev/*' \
	--exclude='./proc/*' \
	--exclude='./sys/*' \
	-C "$root" -cf - . | gzip -1 >"$out.part"
mv "$out.part" "$out"
