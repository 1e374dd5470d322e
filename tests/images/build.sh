#!/usr/bin/env bash
# tests/images/build.sh [--push] [--force] - build the project's test container images
# without a Docker engine (mmdebstrap + umoci + skopeo). Debian 12, as root.
#
# Outputs (under $CUSTOMS_STATE/images, default <repo>/.local/images):
#   oci/debian-app/, oci/tiny/   OCI image layouts, tag "latest"
#   images.json                  per image: manifest/config digests, layers (digest, size,
#                                diff_id), plus the pushed refs and digests after --push
#   cache/                       downloads kept between runs (base rootfs tar, .debs, pip, npm, go);
#                                rm cache/base-*.tar to take a newer base from the mirror
#   stamps/<image>               sha256 of this script + app/ + go/: an image whose stamp
#                                matches is not rebuilt (use --force or FORCE=1 to rebuild)
#
# Images (ground truth: README.md and planted.json next to this script):
#   debian-app  L1 Debian bookworm --variant=minbase rootfs (mmdebstrap, host's apt mirror)
#               L2 pip --target site-packages of python3.11, npm app in /app (from app/,
#                  package-lock.json pinned), /usr/local/bin/demo-go (from go/, deps vendored
#                  from Debian's golang-*-dev), /opt/java/commons-lang3-3.12.0.jar, user app
#               L3 whiteouts: deletes /usr/bin/tac and the directory /usr/share/doc/bash
#               config: User, Env, ExposedPorts, Entrypoint/Cmd, WorkingDir, labels
#   tiny        L1 static busybox (Debian busybox-static) + applet symlinks + /etc/passwd
#               L2 /usr/local/bin/demo-go
#
# --push copies each layout with skopeo (registries: localstack/scripts/registry.sh start):
#   127.0.0.1:$REGISTRY_PORT/customs/<image>:latest       (default port 5000, no auth, OCI manifest)
#   127.0.0.1:$REGISTRY_PORT/customs/debian-app:v2s2      (converted to Docker schema 2)
#   127.0.0.1:$REGISTRY_PORT+1/customs/<image>:latest     (Basic auth $REGISTRY_USER:$REGISTRY_PASS)
#   127.0.0.1:$REGISTRY_PORT+2/customs/<image>:latest     (Bearer token auth, same credentials)
#
# Environment: MIRROR, SECURITY_MIRROR (default: parsed from /etc/apt/sources*),
#   SOURCE_DATE_EPOCH (default 1716163200), PYTHON (a python3.11 with pip; default python3),
#   REGISTRY_PORT/REGISTRY_USER/REGISTRY_PASS (5000/customs/customs-pass), FORCE=1.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../localstack/scripts/common.sh
. "$HERE/../../localstack/scripts/common.sh"
LOG_TAG=images

PUSH=0 FORCE=${FORCE:-0}
for a in "$@"; do
  case $a in
    --push) PUSH=1 ;;
    --force) FORCE=1 ;;
    *) sed -n '2,/^[^#]/{/^#/p}' "$0" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and umoci keep file ownership)"

OUT=$CUSTOMS_STATE/images
OCI=$OUT/oci CACHE=$OUT/cache WORK=$OUT/work
IMAGES=(debian-app tiny)
SUITE=bookworm
SITE=usr/local/lib/python3.11/site-packages
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1716163200}
CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
PORT=${REGISTRY_PORT:-5000}
CREDS=${REGISTRY_USER:-customs}:${REGISTRY_PASS:-customs-pass}
INPUT_HASH=$(cd "$HERE" && { echo "$SOURCE_DATE_EPOCH"; cat build.sh; find app go -type f ! -path '*/node_modules/*' | LC_ALL=C sort | xargs cat; } | sha256sum | cut -d' ' -f1)

fresh() { [ "$FORCE" != 1 ] && [ -s "$OCI/$1/index.json" ] && [ "$(cat "$OUT/stamps/$1" 2>/dev/null)" = "$INPUT_HASH" ]; }

# ------------------------------------------------------------------ tools, mirrors
tools() {
  need_apt mmdebstrap umoci skopeo jq ca-certificates golang-go golang-github-google-uuid-dev \
    golang-golang-x-net-dev golang-golang-x-text-dev golang-gopkg-yaml.v2-dev
  command -v npm >/dev/null || need_apt npm
  PY=${PYTHON:-python3}
  [ "$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = 3.11 ] || PY=/usr/bin/python3
  "$PY" -m pip --version >/dev/null 2>&1 || need_apt python3-pip
  apt-cache show busybox-static >/dev/null 2>&1 || apt-get update -q >&2   # for apt-get download
}

# apt_uris: every URI of the host's apt sources (deb822 and one-line format)
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

# ------------------------------------------------------------------ inputs (built lazily, once)
# base_tar: cached mmdebstrap tarball; its name hashes the arguments, so changing them rebuilds it
base_tar() {
  local src=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main")
  [ -n "$SECURITY_MIRROR" ] && src+=("deb $SECURITY_MIRROR $SUITE-security main")
  # shellcheck disable=SC2016 # $1 is the hook's argument (the rootfs), expanded by mmdebstrap
  local args=(--variant=minbase --mode=root --format=tar --skip=output/dev --skip=output/mknod
    --aptopt='Acquire::Retries "3"'
    --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"; echo localhost > "$1/etc/hostname"'
    "$SUITE" - "${src[@]}")
  BASE_TAR=$CACHE/base-$SUITE-$(echo "$SOURCE_DATE_EPOCH ${args[*]}" | sha256sum | cut -c1-12).tar
  [ -s "$BASE_TAR" ] && return 0
  log "mmdebstrap ${src[*]} -> $BASE_TAR"
  mmdebstrap --quiet "${args[@]}" >"$BASE_TAR.tmp"
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -path "$BASE_TAR" -delete   # superseded ones
}

# deb PKG: extract a Debian package (downloaded once into the cache, not installed) -> $WORK/deb/PKG
deb() {
  local f
  mkdir -p "$CACHE/debs" "$WORK/deb/$1"
  f=$(find "$CACHE/debs" -name "${1}_*.deb" | sort | tail -1)
  if [ -z "$f" ]; then
    (cd "$CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2)
    f=$(find "$CACHE/debs" -name "${1}_*.deb" | sort | tail -1)
  fi
  dpkg-deb -x "$f" "$WORK/deb/$1"
}

# demo_go: build go/ with GOFLAGS=-mod=vendor; vendor/ is assembled from Debian's sources
# (/usr/share/gocode/src) with a hand-written modules.txt carrying the go.mod versions.
demo_go() {
  [ -x "$WORK/go/demo-go" ] && return 0
  local G=$WORK/go gosrc=/usr/share/gocode/src mod p v
  mkdir -p "$G/vendor"
  cp "$HERE"/go/main.go "$HERE"/go/go.mod "$G/"
  for mod in github.com/google/uuid:github.com/google/uuid \
             golang.org/x/net:golang.org/x/net/html,golang.org/x/net/html/atom \
             golang.org/x/text:golang.org/x/text/transform,golang.org/x/text/unicode/norm \
             gopkg.in/yaml.v2:gopkg.in/yaml.v2; do
    v=$(awk -v m="${mod%%:*}" '$1 == m {print $2}' "$G/go.mod")
    [ -n "$v" ] || die "go.mod does not require ${mod%%:*}"
    printf '# %s %s\n## explicit\n' "${mod%%:*}" "$v" >>"$G/vendor/modules.txt"
    for p in $(tr , ' ' <<<"${mod#*:}"); do
      echo "$p" >>"$G/vendor/modules.txt"
      mkdir -p "$G/vendor/$p"
      find -L "$gosrc/$p" -maxdepth 1 -type f -name '*.go' ! -name '*_test.go' -exec cp -L {} "$G/vendor/$p/" \;
    done
  done
  log "go build demo-go ($(go version | awk '{print $3}'))"
  (cd "$G" && GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
    GOCACHE=$CACHE/gocache GOPATH=$WORK/gopath go build -trimpath -buildvcs=false -ldflags='-s -w' -o demo-go .)
}

# ------------------------------------------------------------------ umoci helpers
# new_image NAME: empty layout $WORK/oci/NAME with tag latest, bundle $WORK/bundle-NAME (rootfs $R)
new_image() {
  L=$WORK/oci/$1 B=$WORK/bundle-$1 R=$WORK/bundle-$1/rootfs
  rm -rf "$L" "$B"; mkdir -p "$WORK/oci"
  umoci init --layout "$L"
  umoci new --image "$L:latest"
  umoci unpack --image "$L:latest" "$B" >/dev/null
}
# layer CREATED_BY: commit the bundle's changes as a new layer (mtimes clamped: reproducible)
layer() {
  find "$R" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  umoci repack --refresh-bundle --history.created "$CREATED" --history.created_by "$1" --image "$L:latest" "$B"
}
# finish NAME: gc, move the layout into place, write the stamp
finish() {
  umoci gc --layout "$L"
  rm -rf "$B" "${OCI:?}/$1"; mkdir -p "$OCI" "$OUT/stamps"
  mv "$L" "$OCI/$1"
  echo "$INPUT_HASH" >"$OUT/stamps/$1"
  rm -rf "$OUT/pushed/$1"   # records of older pushes no longer describe this image
  log "built $1: $(jq -r '.manifests[0].digest' "$OCI/$1/index.json")"
}

# ------------------------------------------------------------------ images
build_debian_app() {
  base_tar; demo_go; deb libcommons-lang3-java
  new_image debian-app
  log "debian-app: layer 1 (base rootfs)"
  tar -C "$R" --numeric-owner --xattrs --xattrs-include='*' -xpf "$BASE_TAR"
  layer "mmdebstrap --variant=minbase $SUITE"

  log "debian-app: layer 2 (python, npm, go, java)"
  cat >"$WORK/requirements.txt" <<'EOF'
requests==2.31.0
urllib3==1.26.5
Jinja2==2.11.2
MarkupSafe==2.0.1
PyYAML==5.3.1
certifi==2023.7.22
idna==3.4
charset-normalizer==3.2.0
EOF
  # All pins are listed (--no-deps). MarkupSafe 2.0.1 and PyYAML 5.3.1 publish no cp311
  # wheels, only sdists: pip builds those two (cached in cache/pip); everything else is a wheel.
  # -g0: no debug info, which would embed pip's random build dir (MarkupSafe's C speedups).
  CFLAGS=-g0 "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-compile \
    --cache-dir "$CACHE/pip" --target "$R/$SITE" --no-deps --only-binary=:all: \
    --no-binary=markupsafe,pyyaml -r "$WORK/requirements.txt" >&2
  rm -rf "${R:?}/$SITE/bin"   # console scripts with a shebang of the build host's python
  mkdir -p "$R/app"
  cp "$HERE"/app/package.json "$HERE"/app/package-lock.json "$HERE"/app/server.js "$R/app/"
  (cd "$R/app" && npm ci -q --ignore-scripts --omit=dev --no-audit --no-fund --cache "$CACHE/npm" >&2)
  install -D -m 755 "$WORK/go/demo-go" "$R/usr/local/bin/demo-go"
  install -D -m 644 "$WORK"/deb/libcommons-lang3-java/usr/share/java/commons-lang3-3.*.jar -t "$R/opt/java/"
  echo 'app:x:10001:10001:customs demo app:/app:/usr/sbin/nologin' >>"$R/etc/passwd"
  echo 'app:x:10001:' >>"$R/etc/group"
  chown -R 10001:10001 "$R/app"
  layer "COPY python site-packages, npm app /app, demo-go, commons-lang3 jar; add user app"

  log "debian-app: layer 3 (whiteouts)"
  rm -rf "$R/usr/bin/tac" "$R/usr/share/doc/bash"
  layer "RUN rm /usr/bin/tac; rm -r /usr/share/doc/bash"

  umoci config --image "$L:latest" --created "$CREATED" --author "customs tests/images/build.sh" \
    --history.created "$CREATED" --history.created_by "USER app; ENV; EXPOSE; ENTRYPOINT; CMD; WORKDIR; LABEL" \
    --config.user app --config.workingdir /app \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env PYTHONPATH=/$SITE --config.env NODE_ENV=production --config.env APP_VERSION=1.0.0 \
    --config.exposedports 8080/tcp --config.exposedports 9090/udp \
    --config.entrypoint /usr/local/bin/demo-go --config.cmd --listen --config.cmd :8080 \
    --config.label org.opencontainers.image.title=debian-app \
    --config.label org.opencontainers.image.version=1.0.0 \
    --config.label dev.customs.test=planted
  finish debian-app
}

build_tiny() {
  demo_go; deb busybox-static
  new_image tiny
  log "tiny: layer 1 (busybox)"
  mkdir -p "$R"/{bin,etc,root,tmp}; chmod 1777 "$R/tmp"; chmod 700 "$R/root"
  install -m 755 "$WORK/deb/busybox-static/bin/busybox" "$R/bin/busybox"
  for a in sh ls cat echo env id ps uname; do ln -s busybox "$R/bin/$a"; done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$R/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
  layer "ADD busybox-static $(dpkg-deb -f "$(find "$CACHE/debs" -name 'busybox-static_*.deb' | sort | tail -1)" Version)"
  log "tiny: layer 2 (demo-go)"
  install -D -m 755 "$WORK/go/demo-go" "$R/usr/local/bin/demo-go"
  layer "COPY demo-go /usr/local/bin/"
  umoci config --image "$L:latest" --created "$CREATED" --author "customs tests/images/build.sh" \
    --history.created "$CREATED" --history.created_by 'CMD ["/bin/sh"]' \
    --config.env PATH=/usr/local/bin:/bin --config.cmd /bin/sh \
    --config.label org.opencontainers.image.title=tiny
  finish tiny
}

# ------------------------------------------------------------------ push
push() {
  local code img
  code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$PORT/v2/" || true)
  [ "$code" = 200 ] || die "no open registry at http://127.0.0.1:$PORT/v2/ (HTTP $code); start it: localstack/scripts/registry.sh start"
  code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' -u "$CREDS" "http://127.0.0.1:$((PORT + 1))/v2/" || true)
  [ "$code" = 200 ] || die "basic-auth registry at http://127.0.0.1:$((PORT + 1))/v2/ answered HTTP $code with the credentials; start it: localstack/scripts/registry.sh start"
  code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$((PORT + 2))/v2/" || true)
  [ "$code" = 401 ] || die "no token-auth registry at http://127.0.0.1:$((PORT + 2))/v2/ (HTTP $code); start it: localstack/scripts/registry.sh start"
  for img in "${IMAGES[@]}"; do
    push_one "$img" "127.0.0.1:$PORT/customs/$img:latest" --preserve-digests
    push_one "$img" "127.0.0.1:$((PORT + 1))/customs/$img:latest" --preserve-digests --dest-creds "$CREDS"
    push_one "$img" "127.0.0.1:$((PORT + 2))/customs/$img:latest" --preserve-digests --dest-creds "$CREDS"
  done
  push_one debian-app "127.0.0.1:$PORT/customs/debian-app:v2s2" --format v2s2
}
# push_one IMAGE REF [skopeo copy options]: records "REF DIGEST" in $OUT/pushed/IMAGE/
push_one() {
  local img=$1 ref=$2 rec; shift 2
  rec=$OUT/pushed/$img/${ref//[\/:]/_}
  mkdir -p "$OUT/pushed/$img"
  log "push $img -> $ref"
  skopeo --insecure-policy copy -q --dest-tls-verify=false --digestfile "$rec.digest" "$@" \
    "oci:$OCI/$img:latest" "docker://$ref"
  echo "$ref $(cat "$rec.digest")" >"$rec"; rm -f "$rec.digest"
}

# ------------------------------------------------------------------ images.json
write_json() {
  local img L m
  for img in "${IMAGES[@]}"; do
    L=$OCI/$img
    m=$(jq -r '.manifests[0].digest' "$L/index.json" | tr : /)
    { cat "$OUT/pushed/$img"/* 2>/dev/null || true; } | jq -R 'split(" ") | {(.[0]): .[1]}' | jq -s 'add // {}' >"$OUT/pushed.tmp"
    jq -n --arg name "$img" --arg layout "$L" --slurpfile idx "$L/index.json" --slurpfile man "$L/blobs/$m" \
      --slurpfile cfg "$L/blobs/$(jq -r '.config.digest' "$L/blobs/$m" | tr : /)" \
      --slurpfile pushed "$OUT/pushed.tmp" '
      $idx[0].manifests[0] as $d | $man[0] as $m | $cfg[0] as $c | {($name): {
        layout: $layout, ref: "oci:\($layout):latest",
        manifest_digest: $d.digest, manifest_size: $d.size, manifest_media_type: $d.mediaType,
        config_digest: $m.config.digest, config_size: $m.config.size,
        created: $c.created, os: $c.os, architecture: $c.architecture, config: $c.config,
        layers: [range($m.layers | length) as $i | $m.layers[$i] |
                 {digest, size, media_type: .mediaType, diff_id: $c.rootfs.diff_ids[$i]}],
        total_layer_bytes: ($m.layers | map(.size) | add),
        pushed: $pushed[0]}}'
  done | jq -s add >"$OUT/images.json"
  rm -f "$OUT/pushed.tmp"
}

# ------------------------------------------------------------------ main
need_apt skopeo jq curl
stale=()
for img in "${IMAGES[@]}"; do fresh "$img" || stale+=("$img"); done
if [ ${#stale[@]} -gt 0 ]; then
  tools; mirrors
  log "building ${stale[*]} (mirror $MIRROR, security ${SECURITY_MIRROR:-none}, SOURCE_DATE_EPOCH $SOURCE_DATE_EPOCH)"
  rm -rf "$WORK"; mkdir -p "$WORK" "$CACHE"
  for img in "${stale[@]}"; do "build_${img//-/_}"; done
  rm -rf "$WORK"
else
  log "images up to date (${IMAGES[*]}); --force rebuilds"
fi
if [ "$PUSH" = 1 ]; then push; fi
write_json
jq -r 'to_entries[] | "\(.key)\t\(.value.manifest_digest)\t\(.value.layers | length) layers\t\(.value.total_layer_bytes) bytes"' "$OUT/images.json" >&2
log "done: $OUT/images.json"
