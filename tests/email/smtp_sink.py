"""The SMTP server of the email tests (server/tests/api/emails.rs): aiosmtpd, accepting
every message and writing each, parsed, as one JSON file in a directory.

    smtp_sink.py DIR [--port N]

Prints {"port": N} once it listens (N is free when not given), then serves until killed.
"""

import argparse
import asyncio
import email
import email.policy
import json
import pathlib
import uuid

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, out: pathlib.Path):
        self.out = out

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        # Lines as Python reads text, not as SMTP carries it (CRLF).
        parts = {
            part.get_content_type(): part.get_content().replace("\r\n", "\n")
            for part in message.walk()
            if not part.is_multipart()
        }
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "reply_to": message["Reply-To"] and str(message["Reply-To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
        }
        # Written whole, then renamed: a reader never sees half a message.
        name = self.out / f"{uuid.uuid4().hex}"
        name.with_suffix(".tmp").write_text(json.dumps(record))
        name.with_suffix(".tmp").rename(name.with_suffix(".json"))
        return "250 OK"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=pathlib.Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    sink = Sink(args.dir)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(sink), "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
