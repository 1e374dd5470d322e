#!/usr/bin/env python3
"""tokenserver.py PORT KEY CERT KID ISSUER SERVICE - a Docker registry token service for tests.

Implements the distribution token protocol (GET /token?service=..&scope=..) well enough for
Debian's docker-registry with `auth: token`: HTTP Basic credentials are checked against
$TOKEN_USER / $TOKEN_PASS; a wrong password is answered 401 with a JSON error (what real
token services do), an anonymous request gets a token granting nothing. Tokens are JWTs
signed RS256 with KEY through the openssl CLI (python's standard library has no RSA);
KID is the libtrust key id of CERT's public key, which the registry matches against its
rootcertbundle. Standard library only. Binds 127.0.0.1.
"""
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PORT, KEY, CERT, KID, ISSUER, SERVICE = sys.argv[1:7]
USER = os.environ.get("TOKEN_USER", "customs")
PASS = os.environ.get("TOKEN_PASS", "customs-pass")
LIFETIME = 300


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(claims):
    header = {"alg": "RS256", "typ": "JWT", "kid": KID}
    signing_input = ".".join(b64url(json.dumps(p, separators=(",", ":")).encode()) for p in (header, claims))
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)


def grants(scopes):
    """scope=repository:customs/tiny:pull,push -> [{type, name, actions}]; the authenticated user may pull and push."""
    out = []
    for s in scopes:
        kind, _, rest = s.partition(":")
        name, _, actions = rest.rpartition(":")
        if kind and name:
            allowed = [a for a in actions.split(",") if a in ("pull", "push", "*")]
            out.append({"type": kind, "name": name, "actions": allowed})
    return out


class Handler(BaseHTTPRequestHandler):
    server_version = "customs-test-tokenserver"

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, body):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path != "/token":
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "only /token is served"}]})
        q = parse_qs(url.query)
        subject = ""
        auth = self.headers.get("Authorization", "")
        if auth:
            scheme, _, value = auth.partition(" ")
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                user, password = "", None
            if scheme.lower() != "basic" or (user, password) != (USER, PASS):
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED",
                                                    "message": "invalid username or password"}]})
            subject = user
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": subject, "aud": q.get("service", [SERVICE])[0],
            "iat": now, "nbf": now - 5, "exp": now + LIFETIME, "jti": uuid.uuid4().hex,
            "access": grants(q.get("scope", [])) if subject else [],
        }
        token = jwt(claims)
        self.reply(200, {"token": token, "access_token": token, "expires_in": LIFETIME,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
