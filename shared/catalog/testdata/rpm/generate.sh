#!/usr/bin/env bash
# generate.sh - rebuild the rpm database fixtures in this folder (Debian 12, as root).
#
# Real rpm databases holding the same 28 packages, built from the spec files this script
# writes (rpmbuild from Debian's `rpm` package; no network, no .rpm downloads):
#   hello-2.10-3 (GPL-3.0-or-later), libfoo-1:1.2.3-1.el9 (MIT), foo-1:4.5-7.el9 with a
#   subpackage foo-libs (150 files: its header spills into sqlite overflow pages and BDB
#   overflow pages), filler1..24 (noarch, so the sqlite table needs interior b-tree pages).
#
#   sqlite/var/lib/rpm/rpmdb.sqlite        rpm 4.18 `rpm --initdb` + `rpm -i --justdb` (sqlite backend)
#   bdb/var/lib/rpm/Packages               Berkeley DB 5.3 hash database written by db5.3_load
#                                          from the same header blobs (keys: instance numbers,
#                                          LE u32, like rpm's BDB backend); read back with rpm's
#                                          own `bdb_ro` backend as a check
#   ndb/usr/lib/sysimage/rpm/Packages.db   rpm's NDB package file (lib/backend/ndb/rpmpkg.c layout),
#                                          written by the python below since Debian's rpm is built
#                                          without the ndb backend; layout in src/cataloger/rpm/ndb.rs
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
command -v rpmbuild >/dev/null || apt-get install -y -q --no-install-recommends rpm
command -v db5.3_load >/dev/null || apt-get install -y -q --no-install-recommends db5.3-util
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
mkdir -p "$W/SPECS"
spec() { cat > "$W/SPECS/$1.spec"; }
for p in "hello 2.10 3 0 GPL-3.0-or-later" "libfoo 1.2.3 1.el9 1 MIT"; do
  set -- $p
  spec "$1" <<EOF
Name: $1
Version: $2
Release: $3
$( [ "$4" != 0 ] && echo "Epoch: $4" )
Summary: test package $1
License: $5
Vendor: Customs Test
BuildArch: x86_64
%description
test package $1
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/doc/$1
printf '#!/bin/sh\necho $1\n' > %{buildroot}/usr/bin/$1
chmod 755 %{buildroot}/usr/bin/$1
echo "readme of $1" > %{buildroot}/usr/share/doc/$1/README
%files
/usr/bin/$1
%doc /usr/share/doc/$1/README
EOF
done
spec foo <<'EOF'
Name: foo
Version: 4.5
Release: 7.el9
Epoch: 1
Summary: foo with a libs subpackage
License: ASL 2.0 and MIT
Vendor: Customs Test
BuildArch: x86_64
%description
foo
%package libs
Summary: foo libraries
License: LGPL-2.1-or-later
%description libs
libs
%install
mkdir -p %{buildroot}/usr/lib64/foo %{buildroot}/usr/bin
for i in $(seq 1 150); do echo "lib $i" > %{buildroot}/usr/lib64/foo/libfoo-module-with-a-long-file-name-$i.so; done
echo foo > %{buildroot}/usr/bin/foo
%files
/usr/bin/foo
%files libs
/usr/lib64/foo
EOF
for i in $(seq 1 24); do
  spec "filler$i" <<EOF
Name: filler$i
Version: 0.$i
Release: 1
Summary: filler $i
License: BSD
BuildArch: noarch
%description
filler
%install
mkdir -p %{buildroot}/usr/share/filler$i
echo $i > %{buildroot}/usr/share/filler$i/data
%files
/usr/share/filler$i/data
EOF
done
export SOURCE_DATE_EPOCH=1716163200
rpmbuild --define "_topdir $W" --define "use_source_date_epoch_as_buildtime 1" -bb "$W"/SPECS/*.spec >/dev/null 2>&1
mkdir -p "$W/db"
rpm --dbpath "$W/db" --initdb
rpm --dbpath "$W/db" -i --nodeps --justdb --ignorearch "$W"/RPMS/*/*.rpm 2>/dev/null
rm -rf "$HERE/sqlite" "$HERE/bdb" "$HERE/ndb"
mkdir -p "$HERE/sqlite/var/lib/rpm" "$HERE/bdb/var/lib/rpm" "$HERE/ndb/usr/lib/sysimage/rpm"
python3 - "$W/db/rpmdb.sqlite" "$HERE/sqlite/var/lib/rpm/rpmdb.sqlite" <<'PY'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
src.execute("VACUUM INTO ?", (sys.argv[2],))   # one self-contained file, WAL folded in
PY
python3 - "$W/db/rpmdb.sqlite" "$W/dump.txt" "$HERE/ndb/usr/lib/sysimage/rpm/Packages.db" <<'PY'
import sqlite3, struct, sys, zlib
rows = sqlite3.connect(sys.argv[1]).execute("select hnum, blob from Packages order by hnum").fetchall()
# db_load input: a Berkeley DB hash db keyed by the LE u32 instance number, like rpm's BDB backend.
with open(sys.argv[2], "w") as f:
    f.write("VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n")
    f.write(" %s\n %s\n" % (struct.pack("<I", 0).hex(), struct.pack("<I", len(rows) + 1).hex()))
    for hnum, blob in rows:
        f.write(" %s\n %s\n" % (struct.pack("<I", hnum).hex(), bytes(blob).hex()))
    f.write("DATA=END\n")
# NDB (rpm lib/backend/ndb/rpmpkg.c): 4096-byte pages; page 0.. hold a 32-byte header
# ('RpmP', version 0, generation, slot pages, next pkgidx) then 16-byte slots ('Slot',
# pkgidx, blkoff, blkcnt); blobs at blkoff*16: 'BlbS', pkgidx, generation, len, data,
# zero padding, tail (adler32, len, 'BlbE') ending on a 16-byte block boundary.
PAGE, BLK, slotnpages = 4096, 16, 1
out = bytearray(PAGE * slotnpages)
struct.pack_into("<4sIIII", out, 0, b"RpmP", 0, 1, slotnpages, len(rows) + 1)
for n, (hnum, blob) in enumerate(rows):
    blob = bytes(blob)
    head = struct.pack("<4sIII", b"BlbS", hnum, 1, len(blob))
    blkcnt = (16 + len(blob) + 12 + BLK - 1) // BLK
    body = bytearray(blkcnt * BLK)
    body[:16] = head
    body[16:16 + len(blob)] = blob
    adl = zlib.adler32(bytes(body[:-12]))
    body[-12:] = struct.pack("<II4s", adl, len(blob), b"BlbE")
    blkoff = len(out) // BLK
    struct.pack_into("<4sIII", out, 32 + 16 * n, b"Slot", hnum, blkoff, blkcnt)
    out += body
open(sys.argv[3], "wb").write(out)
PY
db5.3_load -f "$W/dump.txt" -t hash -c db_pagesize=4096 "$HERE/bdb/var/lib/rpm/Packages"
# check: rpm's own read-only BDB backend lists the same packages
diff <(rpm --dbpath "$W/db" -qa | sort) <(rpm --dbpath "$HERE/bdb/var/lib/rpm" --define '_db_backend bdb_ro' -qa 2>/dev/null | sort)
rm -f "$HERE/bdb/var/lib/rpm/"{__db.*,.rpm.lock,.dbenv.lock} 2>/dev/null || true
rpm --dbpath "$W/db" -qa --qf '%{NAME} %{EPOCHNUM} %{VERSION} %{RELEASE} %{ARCH} %{SOURCERPM} %{LICENSE}\n' | sort > "$HERE/expected.txt"
ls -la "$HERE"/*/var/lib/rpm "$HERE"/ndb/usr/lib/sysimage/rpm
