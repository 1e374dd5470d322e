#!/usr/bin/env bash
# generate.sh - rebuild usr/local/bin/hello-auditable: a small static-free C executable
# (gcc -Os -s) carrying a `.dep-v0` section exactly as `cargo auditable` writes it
# (zlib-compressed JSON, format of rust-secure-code/cargo-auditable `auditable-serde`),
# added with objcopy. cargo-auditable itself is not available offline here; the section
# layout is what its readers (syft, trivy, `rust-audit-info`) parse.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
printf 'int main(void){return 0;}\n' > "$W/hello.c"
gcc -Os -s -o "$W/hello" "$W/hello.c"
cat > "$W/deps.json" <<'JSON'
{"packages":[{"name":"hello-auditable","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},{"name":"serde","version":"1.0.210","source":"crates.io","dependencies":[3]},{"name":"itoa","version":"1.0.11","source":"crates.io"},{"name":"serde_derive","version":"1.0.210","source":"crates.io","kind":"build"}]}
JSON
python3 -c 'import sys,zlib; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1],"rb").read().strip(), 9))' "$W/deps.json" > "$W/deps.zlib"
mkdir -p "$HERE/usr/local/bin"
objcopy --add-section .dep-v0="$W/deps.zlib" --set-section-flags .dep-v0=alloc,readonly,data "$W/hello" "$HERE/usr/local/bin/hello-auditable"
chmod 755 "$HERE/usr/local/bin/hello-auditable"
