#!/usr/bin/env bash
# tests/images/build-bench.sh [--force] - the benchmark images (NOT built by `make test` or CI):
# large multi-layer Debian images for `make bench`, built without a Docker engine
# (mmdebstrap + umoci), Debian 12, as root. Cached: a re-run with the same inputs is a no-op.
#
# Outputs (under $BENCH_CACHE/images, default ${XDG_CACHE_HOME:-$HOME/.cache}/customs-bench/images):
#   oci/<image>/        OCI image layouts, tag "latest"
#   images.json         per image: manifest digest, layers (digest, size, diff_id),
#                       total compressed and uncompressed bytes, file count
#   cache/layers-<h>/   the layer tars of `large` (keyed by the hash of the package groups)
#
# Images:
#   large         9 layers, Debian bookworm: L1 minbase, then one layer per `apt-get install`
#                 of a package group (toolchain, python, node, java, go sources, ruby, perl+tools),
#                 each layer holding exactly what that install created or changed (found by
#                 ctime, inside one mmdebstrap run); L9 a config layer with whiteouts.
#                 About 900 dpkg packages, hundreds more npm/python/ruby/java packages
#                 from Debian's own packaging, tens of thousands of files, > 1 GB uncompressed.
#   large-child   large + one small layer (a file and a user): its base layers are the ones
#                 of `large`, for the layer-reuse measurement.
#   scale-<k>x    k = 1, 2, 4, 8: k layers, each a copy of the same payload (the minbase tree
#                 and the node group of `large`), the first at /, copy i at /srv/copy<i>/,
#                 so image k holds k times the files of image 1.
#
# Environment: BENCH_CACHE, MIRROR, SECURITY_MIRROR (default: the host's apt sources),
#   SOURCE_DATE_EPOCH (default 1716163200), FORCE=1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../localstack/scripts/common.sh
. "$HERE/../../localstack/scripts/common.sh"
LOG_TAG=bench-images

FORCE=${FORCE:-0}
for a in "$@"; do
  case $a in
    --force) FORCE=1 ;;
    *) sed -n '2,/^[^#]/{/^#/p}' "$0" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and umoci keep file ownership)"

BENCH_CACHE=${BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/customs-bench}
OUT=$BENCH_CACHE/images
OCI=$OUT/oci CACHE=$OUT/cache WORK=$OUT/work
SUITE=bookworm
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1716163200}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
INPUT_HASH=$( { echo "$SOURCE_DATE_EPOCH"; cat "$0"; } | sha256sum | cut -c1-16)

# Package groups of `large`, one layer each, installed in this order (no Recommends).
GROUPS_=(
  "toolchain:build-essential git pkg-config make autoconf automake libtool"
  "python:python3 python3-pip python3-venv python3-yaml python3-requests python3-jinja2 python3-lxml python3-cryptography python3-django python3-flask"
  "node:nodejs npm"
  "java:default-jre-headless maven"
  "go:golang-golang-x-net-dev golang-golang-x-text-dev golang-github-google-uuid-dev golang-gopkg-yaml.v2-dev"
  "ruby:ruby rake ruby-bundler ruby-rails"
  "tools:perl libwww-perl libdbd-sqlite3-perl sqlite3 curl wget openssh-client vim-nox less procps iproute2 jq"
)

# The layer tars depend only on the package groups (and the mirror's state): changing how the
# images are assembled from them does not repeat the apt-get installs.
LAYERS=$CACHE/layers-$(echo "$SOURCE_DATE_EPOCH ${GROUPS_[*]}" | sha256sum | cut -c1-16)

fresh() { [ "$FORCE" != 1 ] && [ -s "$OCI/$1/index.json" ] && [ "$(cat "$OUT/stamps/$1" 2>/dev/null)" = "$INPUT_HASH" ]; }

apt_uris() {
  { grep -hsE '^\s*URIs:' /etc/apt/sources.list.d/*.sources | sed -E 's/^\s*URIs:\s*//'
    grep -hsE '^\s*deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed -E 's/\[[^]]*\]//' | awk '{print $2}'
  } | tr ' ' '\n' | grep -v '^$' || true
}
mirrors() {
  MIRROR=${MIRROR:-$(apt_uris | grep -v debian-security | grep -m1 debian || true)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  SECURITY_MIRROR=${SECURITY_MIRROR-$(apt_uris | grep -m1 debian-security || true)}
}

# ------------------------------------------------------------------ the layer tars of `large`
# One mmdebstrap run (output discarded): a customize hook tars the minbase tree as layer 0,
# then for each group runs apt-get install in the chroot and tars every path whose ctime is
# newer than a marker taken before the install (dpkg keeps package mtimes, not ctimes).
layer_tars() {
  [ "$FORCE" != 1 ] && [ -s "$LAYERS/done" ] && return 0
  rm -rf "$LAYERS"; mkdir -p "$LAYERS"
  local hook=$WORK/hook.sh src=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
  [ -n "$SECURITY_MIRROR" ] && src+=("deb $SECURITY_MIRROR $SUITE-security main")
  mkdir -p "$WORK"
  {
    echo '#!/usr/bin/env bash'; echo 'set -euo pipefail'
    echo 'R=$1'
    printf 'LAYERS=%q\n' "$LAYERS"
    cat <<'EOF'
EXCL=(--exclude=./proc --exclude=./sys --exclude=./dev --exclude=./run --exclude=./tmp
      --exclude=./var/cache/apt --exclude=./var/lib/apt/lists --exclude=./var/log
      --exclude=./etc/resolv.conf --exclude=./.bench-marker)
snap() { # snap N NAME: tar what changed since the marker (everything for N=0)
  local list=$LAYERS/$1-$2.list
  if [ "$1" = 0 ]; then
    tar -C "$R" --numeric-owner --xattrs -cf "$LAYERS/$1-$2.tar" "${EXCL[@]}" .
  else
    (cd "$R" && find . \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
       -o -path ./var/cache/apt -o -path ./var/lib/apt/lists -o -path ./var/log \) -prune \
       -o -cnewer .bench-marker ! -name .bench-marker ! -path ./etc/resolv.conf ! -path . -print) | LC_ALL=C sort >"$list"
    tar -C "$R" --numeric-owner --xattrs --no-recursion -cf "$LAYERS/$1-$2.tar" -T "$list"
  fi
  touch "$R/.bench-marker"; sleep 1.1   # ctime granularity: later changes are strictly newer
}
echo localhost >"$R/etc/hostname"
snap 0 minbase
EOF
    local i=1 g
    for g in "${GROUPS_[@]}"; do
      printf 'echo "[bench-images] layer %d: apt-get install %s" >&2\n' "$i" "${g#*:}"
      printf 'DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -y -q --no-install-recommends %s >&2\n' "${g#*:}"
      echo 'chroot "$R" apt-get clean'
      printf 'snap %d %s\n' "$i" "${g%%:*}"
      i=$((i + 1))
    done
    echo 'chroot "$R" dpkg-query -W -f "\${Package}\n" | wc -l >"$LAYERS/dpkg-count"'
  } >"$hook"
  chmod +x "$hook"
  log "mmdebstrap + ${#GROUPS_[@]} apt-get installs -> $LAYERS (a few minutes)"
  mmdebstrap --quiet --variant=minbase --mode=root --format=null --skip=output/dev --skip=output/mknod \
    --aptopt='Acquire::Retries "3"' --aptopt='APT::Install-Recommends "false"' \
    --customize-hook="$hook \"\$1\"" "$SUITE" /dev/null "${src[@]}"
  touch "$LAYERS/done"
  find "$CACHE" -maxdepth 1 -name 'layers-*' ! -path "$LAYERS" -exec rm -rf {} +   # superseded
}

# ------------------------------------------------------------------ umoci helpers (as build.sh)
new_image() {
  L=$WORK/oci/$1 B=$WORK/bundle-$1 R=$WORK/bundle-$1/rootfs
  rm -rf "$L" "$B"; mkdir -p "$WORK/oci"
  umoci init --layout "$L"
  umoci new --image "$L:latest"
  umoci unpack --image "$L:latest" "$B" >/dev/null
}
layer() {
  find "$R" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  umoci repack --refresh-bundle --history.created "$CREATED" --history.created_by "$1" --image "$L:latest" "$B"
}
finish() {
  umoci config --image "$L:latest" --created "$CREATED" --author "customs tests/images/build-bench.sh" \
    --history.created "$CREATED" --history.created_by "CMD" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --config.cmd /bin/bash \
    --config.label "org.opencontainers.image.title=$1"
  umoci gc --layout "$L"
  rm -rf "$B" "${OCI:?}/$1"; mkdir -p "$OCI" "$OUT/stamps"
  mv "$L" "$OCI/$1"
  echo "$INPUT_HASH" >"$OUT/stamps/$1"
  log "built $1: $(jq -r '.manifests[0].digest' "$OCI/$1/index.json")"
}
untar() { tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' -xpf "$1"; }

build_large() {
  new_image large
  local t n
  for t in $(find "$LAYERS" -name '*.tar' | sort -V); do
    n=$(basename "$t" .tar)
    log "large: layer ${n%%-*} (${n#*-}, $(du -m "$t" | cut -f1) MB)"
    untar "$t"
    if [ "${n%%-*}" = 0 ]; then layer "mmdebstrap --variant=minbase $SUITE"
    else layer "apt-get install --no-install-recommends $(printf '%s\n' "${GROUPS_[@]}" | grep "^${n#*-}:" | cut -d: -f2)"; fi
  done
  log "large: config layer (whiteouts, user)"
  rm -rf "$R/usr/share/doc/git" "$R/usr/bin/tac"
  echo 'app:x:10001:10001:bench:/home/app:/bin/bash' >>"$R/etc/passwd"
  echo 'app:x:10001:' >>"$R/etc/group"
  layer "RUN rm -r /usr/share/doc/git /usr/bin/tac; useradd app"
  finish large
}

build_large_child() {
  L=$WORK/oci/large-child B=$WORK/bundle-large-child R=$WORK/bundle-large-child/rootfs
  rm -rf "$L" "$B"; mkdir -p "$WORK/oci"; cp -a "$OCI/large" "$L"
  umoci unpack --image "$L:latest" "$B" >/dev/null
  mkdir -p "$R/srv/app"
  printf 'child of large, built %s\n' "$CREATED" >"$R/srv/app/README"
  echo 'child:x:10002:10002::/srv/app:/bin/sh' >>"$R/etc/passwd"
  layer "COPY README /srv/app/; useradd child"
  finish large-child
}

build_scale() { # build_scale K
  local k=$1 i dst
  new_image "scale-${k}x"
  for i in $(seq 1 "$k"); do
    if [ "$i" = 1 ]; then dst=$R; else dst=$R/srv/copy$i; mkdir -p "$dst"; fi
    tar -C "$dst" --numeric-owner -xpf "$(find "$LAYERS" -name '0-*.tar')"
    tar -C "$dst" --numeric-owner -xpf "$(find "$LAYERS" -name '*-node.tar')"
    layer "COPY payload copy $i of $k"
  done
  finish "scale-${k}x"
}

write_json() {
  local img L m
  for img in large large-child scale-1x scale-2x scale-4x scale-8x; do
    L=$OCI/$img
    m=$(jq -r '.manifests[0].digest' "$L/index.json" | tr : /)
    jq -n --arg name "$img" --arg layout "$L" --slurpfile idx "$L/index.json" --slurpfile man "$L/blobs/$m" \
      --slurpfile cfg "$L/blobs/$(jq -r '.config.digest' "$L/blobs/$m" | tr : /)" \
      --argjson unc "$(cat "$OUT/stamps/$img.unc" 2>/dev/null || echo null)" '
      $idx[0].manifests[0] as $d | $man[0] as $m | $cfg[0] as $c | {($name): {
        layout: $layout, ref: "oci:\($layout):latest", manifest_digest: $d.digest,
        layers: [range($m.layers | length) as $i | $m.layers[$i] | {digest, size, diff_id: $c.rootfs.diff_ids[$i]}],
        total_layer_bytes: ($m.layers | map(.size) | add), uncompressed: $unc}}'
  done | jq -s add >"$OUT/images.json"
}

# uncompressed size and entry count of an image (sum over its layers), cached per image
measure() {
  local img=$1 L=$OCI/$1 m bytes=0 files=0 b f d
  [ -s "$OUT/stamps/$img.unc" ] && [ "$OUT/stamps/$img.unc" -nt "$OCI/$img/index.json" ] && return 0
  m=$(jq -r '.manifests[0].digest' "$L/index.json" | tr : /)
  for d in $(jq -r '.layers[].digest' "$L/blobs/$m" | tr : /); do
    b=$(gzip -dc "$L/blobs/$d" | wc -c); f=$(gzip -dc "$L/blobs/$d" | tar -t | wc -l)
    bytes=$((bytes + b)) files=$((files + f))
  done
  jq -n --argjson b "$bytes" --argjson f "$files" '{bytes: $b, entries: $f}' >"$OUT/stamps/$img.unc"
}

need_apt mmdebstrap umoci jq
mkdir -p "$OUT" "$CACHE" "$WORK"
mirrors
built=0
if ! fresh large || ! fresh large-child || ! fresh scale-8x || ! fresh scale-1x || ! fresh scale-2x || ! fresh scale-4x; then
  layer_tars
  fresh large || { build_large; built=1; }
  { [ "$built" = 0 ] && fresh large-child; } || build_large_child
  for k in 1 2 4 8; do fresh "scale-${k}x" || build_scale "$k"; done
else
  log "benchmark images up to date; --force rebuilds"
fi
for img in large large-child scale-1x scale-2x scale-4x scale-8x; do measure "$img"; done
rm -rf "$WORK"
write_json
jq -r 'to_entries[] | "\(.key)\t\(.value.layers | length) layers\t\(.value.total_layer_bytes) bytes compressed\t\(.value.uncompressed.bytes) uncompressed\t\(.value.uncompressed.entries) entries"' "$OUT/images.json" >&2
log "done: $OUT/images.json"
