#!/usr/bin/env bash
# Times scripts/image-check three ways: cold (no base tarball, no images: what a fresh CI machine
# pays), with the base tarball cached but the container storage empty, and warm (everything
# cached, tree unchanged). Removes this project's images (localhost/driftguard*), the untagged
# (layer cache) images in the container storage, and its image
# cache, nothing else. As root, with the network to Debian and PyPI; about 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${DRIFTGUARD_IMAGE_CACHE:-/var/cache/driftguard-image}

remove_images() {
  buildah images --format '{{.Name}}:{{.Tag}}' \
    | { grep -E '^localhost/driftguard(-python-base)?:' || true; } \
    | xargs -r buildah rmi >/dev/null
  # The layer cache: untagged images left by the builds above.
  buildah rmi --prune >/dev/null
}

timed() {
  local label=$1 started=$SECONDS
  bash scripts/image-check >/dev/null
  printf '| %s | %d s |\n' "$label" "$((SECONDS - started))"
}

echo "| image-check | wall time |"
echo "|---|---|"
remove_images
rm -rf "$CACHE"
timed "cold (nothing cached)"
remove_images
timed "base tarball cached, no images"
timed "warm (unchanged tree)"
