#!/usr/bin/env bash
# make image: build the Dockerfile with buildah as $IMAGE (default localhost/intercom-stream:dev), and
# image/emulator.Dockerfile beside it as $EMULATOR_IMAGE (default localhost/intercom-stream-emulator:dev).
# The host's CA bundle goes in as the build secret "ca" (pip needs it on networks with their own TLS
# authority); it is not stored in the image.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${IMAGE:-localhost/intercom-stream:dev}
emulator_image=${EMULATOR_IMAGE:-localhost/intercom-stream-emulator:dev}
python_image=${PYTHON_IMAGE:-docker.io/library/python:3.11-slim}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
for tool in buildah; do
  command -v "$tool" >/dev/null || { echo "make image needs $tool (apt-get install buildah debootstrap)" >&2; exit 1; }
done

started=$(date +%s)
base=$(image/base.sh "$python_image")
based=$(date +%s)
secret=()
[ -s "$ca_bundle" ] && secret=(--secret "id=ca,src=$ca_bundle")
buildah bud --quiet --layers --isolation chroot --build-arg PYTHON_IMAGE="$base" "${secret[@]}" -t "$image" . >/dev/null
done_at=$(date +%s)
size=$(buildah images --format '{{.Size}}' "$image" | head -1)
echo "built $image on $base: size $size; base $((based - started))s, build $((done_at - based))s"
buildah bud --quiet --layers --isolation chroot --build-arg PYTHON_IMAGE="$base" "${secret[@]}" \
  -f image/emulator.Dockerfile -t "$emulator_image" . >/dev/null
size=$(buildah images --format '{{.Size}}' "$emulator_image" | head -1)
echo "built $emulator_image on $base: size $size; build $(($(date +%s) - done_at))s"
