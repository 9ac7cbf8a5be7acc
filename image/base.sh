#!/usr/bin/env bash
# Print the base image to build the Dockerfile on: $1 (e.g. python:3.11-slim) when it is present or a
# registry serves it, else localhost/intercom-stream-base:bookworm, made once with debootstrap from
# Debian's package mirror (some networks reach Debian's packages but no container registry).
set -euo pipefail
wanted=${1:?usage: image/base.sh IMAGE}
local_base=localhost/intercom-stream-base:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

if buildah inspect --type image "$wanted" >/dev/null 2>&1 \
  || timeout 60 buildah pull -q "$wanted" >/dev/null 2>&1; then
  echo "$wanted"
  exit 0
fi
if buildah inspect --type image "$local_base" >/dev/null 2>&1; then
  echo "$local_base"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "image/base.sh: no $wanted and no debootstrap (apt-get install debootstrap)" >&2; exit 1; }

echo "image/base.sh: $wanted is not reachable; making $local_base with debootstrap" >&2
work=$(mktemp -d)
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# python3-venv is what the Dockerfile needs (python3 -m venv, with pip); ca-certificates for TLS to Kafka.
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/* \
  "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/*
ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
cp -a "$work/rootfs/." "$mnt/"
buildah umount "$ctr" >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd python3 "$ctr"
buildah commit -q --rm "$ctr" "$local_base" >/dev/null
ctr=""
echo "$local_base"
