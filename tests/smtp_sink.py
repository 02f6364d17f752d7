"""A real SMTP server for dunner's email tests (aiosmtpd).

Usage: python3 tests/smtp_sink.py --port PORT --out DIR [--reject ADDRESS=REPLY ...]
       [--tls implicit|starttls --tls-cert CERT.pem --tls-key KEY.pem]

Listens on 127.0.0.1:PORT (0 picks a free port) and prints "ready PORT" once
listening. Every message received is written to DIR as NNNNNN.eml (the raw bytes) and
NNNNNN.json (envelope, TLS version or null, headers and the decoded parts, parsed with Python's email
module; `--raw-only`: the .eml only, for benchmarks). `--reject user@example.com="550 5.1.1 No such user"` answers RCPT TO for
that address with the given reply, to exercise permanent (5xx) and transient (4xx)
failures. Runs until killed.

TLS: `--tls-cert CERT.pem --tls-key KEY.pem` with `--tls implicit` speaks TLS from the
first byte (SMTPS); with `--tls starttls` it offers STARTTLS and refuses mail until the
client has upgraded (require_starttls).
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out, reject, raw_only=False):
        self.out = out
        self.reject = reject
        self.raw_only = raw_only
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.reject.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        raw = envelope.original_content or envelope.content
        stem = os.path.join(self.out, f"{self.count:06d}")
        if self.raw_only:
            with open(stem + ".eml", "wb") as file:
                file.write(raw)
            return "250 Message accepted"
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [
            {"content_type": part.get_content_type(), "body": part.get_content()}
            for part in message.walk()
            if not part.is_multipart()
        ]
        tls = server.transport.get_extra_info("ssl_object")
        summary = {
            "tls": tls.version() if tls else None,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "content_type": message.get_content_type(),
            "headers": {key.lower(): str(value) for key, value in message.items()},
            "parts": parts,
        }
        with open(stem + ".eml", "wb") as file:
            file.write(raw)
        # Written last and renamed into place: a reader never sees half a file.
        with open(stem + ".json.tmp", "w", encoding="utf-8") as file:
            json.dump(summary, file)
        os.replace(stem + ".json.tmp", stem + ".json")
        return "250 Message accepted"


class OneLine(logging.Formatter):
    """A refused TLS handshake is expected in the tests: one line, not a traceback."""

    def formatException(self, exc_info):
        error = exc_info[1]
        cause = error.__cause__ or error
        return f"  ({type(cause).__name__}: {cause})"


async def serve(port, handler, tls=None, context=None):
    loop = asyncio.get_running_loop()
    if tls == "starttls":
        factory = lambda: SMTP(
            handler, hostname="sink.test", tls_context=context, require_starttls=True
        )
        server = await loop.create_server(factory, host="127.0.0.1", port=port)
    else:
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sink.test"),
            host="127.0.0.1",
            port=port,
            ssl=context if tls == "implicit" else None,
        )
    bound = server.sockets[0].getsockname()[1]
    print(f"ready {bound}", flush=True)
    await server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--reject", action="append", default=[])
    # Benchmarks: keep the raw message only, so that parsing does not bound the rate.
    parser.add_argument("--raw-only", action="store_true")
    parser.add_argument("--tls", choices=["implicit", "starttls"])
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    args = parser.parse_args()
    context = None
    if args.tls:
        if not (args.tls_cert and args.tls_key):
            parser.error("--tls needs --tls-cert and --tls-key")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    reject = {}
    for item in args.reject:
        address, _, reply = item.partition("=")
        reject[address.lower()] = reply
    handler = logging.StreamHandler()
    handler.setFormatter(OneLine("smtp_sink: %(levelname)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    os.makedirs(args.out, exist_ok=True)
    try:
        asyncio.run(
            serve(args.port, Sink(args.out, reject, args.raw_only), args.tls, context)
        )
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
