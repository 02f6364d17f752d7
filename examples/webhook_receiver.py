#!/usr/bin/env python3
"""A minimal dunner webhook receiver: verifies the Standard Webhooks signature, prints
the event, answers 204 (or 401 when the signature is wrong).

Standard library only, and its own HMAC code, so it also checks dunner independently.

    WEBHOOK_SECRET='whsec_...' python3 examples/webhook_receiver.py --port 9000

then point a `[[webhooks]]` entry of dunner.toml at http://127.0.0.1:9000/ with the same
secret. `--port 0` picks a free port; the first line printed is
`listening on http://HOST:PORT/`.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60


def key_from_secret(secret):
    """`whsec_<base64>` -> the key bytes."""
    if not secret.startswith("whsec_"):
        raise ValueError("the secret must start with whsec_")
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def verify(key, msg_id, timestamp, signatures, body, now=None):
    """Returns None when valid, else the reason."""
    if not msg_id or not timestamp or not signatures:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not an integer"
    now = int(time.time()) if now is None else now
    if abs(now - ts) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than five minutes away from now"
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, value = entry.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return None
    return "no signature matches"


class Handler(BaseHTTPRequestHandler):
    key = b""

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        problem = verify(
            self.key,
            self.headers.get("webhook-id"),
            self.headers.get("webhook-timestamp"),
            self.headers.get("webhook-signature"),
            body,
        )
        if problem is not None:
            print(f"rejected: {problem}", flush=True)
            self.send_response(401)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        event = json.loads(body)
        print(
            json.dumps({"id": self.headers.get("webhook-id"), "type": event.get("type"),
                        "timestamp": event.get("timestamp"), "data": event.get("data")}),
            flush=True,
        )
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):  # keep stdout for events
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"),
                        help="whsec_... (default: $WEBHOOK_SECRET)")
    args = parser.parse_args()
    if not args.secret:
        parser.error("give --secret or set WEBHOOK_SECRET")
    try:
        Handler.key = key_from_secret(args.secret)
    except ValueError as error:
        parser.error(str(error))
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
