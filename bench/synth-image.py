#!/usr/bin/env python3
"""synth-image.py DIR [GIB] - a synthetic multi-layer OCI image layout of GIB (default 2.25)
GiB uncompressed, for measuring peak memory of `customs scan` on a big image.

Standard library only; no Docker, no root. Layers are written as gzip tars straight to
DIR/blobs/sha256/ while both digests are computed, so the script itself needs little memory
and writes each blob once. The content is deterministic (seeded) and shaped like real images:

  L1  base: 20 000 small text files under usr/share/synth (1-8 KiB), /etc/os-release
  L2  big binaries: incompressible files of 192 MiB (their share of GIB x 0.45)
  L3  big logs/data: compressible text files of 256 MiB (GIB x 0.45)
  L4  an update: a whiteout of one L2 file, an opaque directory, a 64 MiB incompressible
      file named like a fat jar (staged for the Java cataloger), the rest small files

Then `customs scan oci-dir:DIR:latest`. Prints the manifest digest and the sizes.
"""
import gzip
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import time

MiB = 1 << 20
EPOCH = 1716163200


class HashingWriter(io.RawIOBase):
    """Counts and hashes what passes through on its way to `inner`."""

    def __init__(self, inner):
        self.inner, self.h, self.n = inner, hashlib.sha256(), 0

    def writable(self):
        return True

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.inner.write(b) if self.inner is not None else len(b)


class Generated(io.RawIOBase):
    """`size` bytes from a block generator, read on demand (never held whole)."""

    def __init__(self, size, block):
        self.left, self.block, self.buf = size, block, b""

    def readable(self):
        return True

    def readinto(self, out):
        if self.left == 0:
            return 0
        if not self.buf:
            self.buf = self.block()
        n = min(len(out), len(self.buf), self.left)
        out[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        self.left -= n
        return n


def random_block(rng):
    # 1 MiB of fresh pseudo-random bytes per call: gzip cannot shrink it.
    return lambda: rng.randbytes(MiB)


def text_block(rng):
    """1 MiB blocks of log-like text: 16 MiB of lines made once, served at random offsets
    (compresses about 4:1 under gzip, as logs and data files do)."""
    words = [b"GET", b"POST", b"/api/v1/items", b"200", b"404", b"user", b"id=", b"ms", b"INFO", b"WARN", b"request", b"served"]
    lines, size = [], 0
    while size < 16 * MiB:
        line = b"%d %s\n" % (rng.randrange(1 << 40), b" ".join(rng.choice(words) for _ in range(12)))
        lines.append(line)
        size += len(line)
    pool = b"".join(lines)

    def block():
        at = rng.randrange(len(pool) - MiB)
        return pool[at:at + MiB]

    return block


def info(name, size=0, kind=tarfile.REGTYPE, mode=0o644):
    t = tarfile.TarInfo(name)
    t.size, t.type, t.mode, t.mtime, t.uid, t.gid = size, kind, mode, EPOCH, 0, 0
    return t


def layer(blobs, fill):
    """Writes one gzip tar layer; returns (descriptor, diff_id, uncompressed bytes)."""
    tmp = os.path.join(blobs, "layer.tmp")
    with open(tmp, "wb") as raw:
        outer = HashingWriter(raw)
        with gzip.GzipFile(fileobj=outer, mode="wb", compresslevel=1, mtime=EPOCH) as gz:
            inner = HashingWriter(gz)
            with tarfile.open(fileobj=inner, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                fill(tar)
    digest = outer.h.hexdigest()
    os.replace(tmp, os.path.join(blobs, digest))
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + digest, "size": outer.n}
    return desc, "sha256:" + inner.h.hexdigest(), inner.n


def blob(blobs, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    total = int(float(sys.argv[2] if len(sys.argv) > 2 else "2.25") * 1024) * MiB
    blobs = os.path.join(out, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)
    rng = random.Random(42)
    started = time.time()
    logs = text_block(rng)
    # Small files take a few KiB each from one block (not a fresh MiB per file).
    small = logs()

    def small_text():
        at = rng.randrange(len(small) - 8192)
        return small[at:at + 8192]

    def dirs(tar, *names):
        for d in names:
            tar.addfile(info(d, kind=tarfile.DIRTYPE, mode=0o755))

    def base(tar):
        dirs(tar, "etc", "usr", "usr/share", "usr/share/synth")
        osr = b'PRETTY_NAME="synthetic"\nNAME="synthetic"\nID=synthetic\nVERSION_ID="1"\n'
        tar.addfile(info("etc/os-release", len(osr)), io.BytesIO(osr))
        text = small_text
        for i in range(20000):
            if i % 1000 == 0:
                dirs(tar, "usr/share/synth/d%02d" % (i // 1000))
            size = rng.randrange(1024, 8192)
            tar.addfile(info("usr/share/synth/d%02d/f%05d.txt" % (i // 1000, i), size), Generated(size, text))

    def big(tar, prefix, share, file_size, block):
        dirs(tar, prefix)
        left, i = int(total * share), 0
        while left > 0:
            size = min(file_size, left)
            tar.addfile(info("%s/part%02d.bin" % (prefix, i), size), Generated(size, block))
            left -= size
            i += 1

    def update(tar):
        dirs(tar, "srv", "srv/bin", "var", "var/log", "opt", "opt/app")
        tar.addfile(info("srv/bin/.wh.part00.bin"))
        tar.addfile(info("var/log/.wh..wh..opq"))
        size = 64 * MiB
        tar.addfile(info("opt/app/app-all.jar", size), Generated(size, random_block(rng)))
        text = small_text
        for i in range(2000):
            size = rng.randrange(512, 4096)
            tar.addfile(info("opt/app/conf%04d.yaml" % i, size), Generated(size, text))

    layers = [
        ("base: 20000 small files", lambda t: base(t)),
        ("big binaries", lambda t: big(t, "srv/bin", 0.45, 192 * MiB, random_block(rng))),
        ("big text", lambda t: big(t, "var/log", 0.45, 256 * MiB, logs)),
        ("update: whiteouts, a fat jar", lambda t: update(t)),
    ]
    descs, diff_ids, unpacked = [], [], 0
    for what, fill in layers:
        d, diff_id, n = layer(blobs, fill)
        descs.append(d)
        diff_ids.append(diff_id)
        unpacked += n
        print("layer %-32s %6d MiB unpacked, %6d MiB gzip  %s" % (what, n // MiB, d["size"] // MiB, d["digest"]), file=sys.stderr)
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "created": "2024-05-20T00:00:00Z",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-05-20T00:00:00Z", "created_by": w} for w, _ in layers],
    }, separators=(",", ":")).encode()
    cdigest, csize = blob(blobs, config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdigest, "size": csize},
        "layers": descs,
    }, separators=(",", ":")).encode()
    mdigest, msize = blob(blobs, manifest)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdigest, "size": msize,
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(json.dumps({"manifest": mdigest, "layers": len(descs), "uncompressed_bytes": unpacked,
                      "compressed_bytes": sum(d["size"] for d in descs), "seconds": round(time.time() - started, 1)}))


if __name__ == "__main__":
    main()
