#!/usr/bin/env python3
"""A small framestream producer: logs in, keeps its token fresh, and uploads frames of one camera,
over HTTP (POST /frames) or over one WebSocket (/ws/frames).

    export FRAMESTREAM_URL=http://127.0.0.1:8000 FRAMESTREAM_USERNAME=cam-north FRAMESTREAM_PASSWORD=...
    python3 producer.py north-gate cam-1 --via http --count 10
    python3 producer.py north-gate cam-1 --via ws --image my-frame.jpg

The account must be a model_manager linked to the site (or an admin). Needs `requests` and
`websockets` (Debian: apt-get install python3-requests python3-websockets). Protocol: docs/protocol.md.
"""
import argparse
import asyncio
import base64
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import quote

import requests
import websockets

DELIMITER = b"--IMG--"


def log(text):
    print(text, flush=True)


class Tokens:
    """Logs in, and refreshes the access token before it expires (or logs in again when the session ended)."""

    def __init__(self, base_url, username, password):
        self.base_url, self.username, self.password = base_url, username, password
        self.login()

    def login(self):
        while True:
            r = requests.post(f"{self.base_url}/login", json={"username": self.username, "password": self.password}, timeout=10)
            if r.status_code != 429:
                break
            delay = retry_delay(r, 0)
            log(f"login: 429 {detail(r)}, retrying in {delay:g} s")
            time.sleep(delay)
        if r.status_code != 200:
            sys.exit(f"login failed: {r.status_code} {detail(r)}")
        self._keep(r.json())
        log(f"logged in as {self.username}")

    def refresh(self):
        r = requests.post(f"{self.base_url}/refresh", json={"refresh_token": self.refresh_token}, timeout=10)
        if r.status_code == 401:  # the session ended (logout, password change, restart without Redis...)
            log(f"refresh: 401 {detail(r)}, logging in again")
            self.login()
            return
        r.raise_for_status()
        self._keep(r.json())
        log("refreshed the access token")

    def access_token(self):
        if time.time() >= self.refresh_at:
            self.refresh()
        return self.access

    def _keep(self, reply):
        self.access, self.refresh_token = reply["access_token"], reply["refresh_token"]
        # The token's payload says when it expires (exp, iat: seconds since the epoch).
        payload = self.access.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        # A minute before expiry, or halfway for tokens that live less than two minutes.
        self.refresh_at = claims["exp"] - min(60, (claims["exp"] - claims["iat"]) / 2)


def detail(r):
    try:
        return r.json().get("detail", r.text)
    except ValueError:
        return r.text


def retry_delay(r, attempt):
    """429 and 503 say when to come back (Retry-After); without it, back off 1, 2, 4... up to 30 s."""
    return float(r.headers.get("Retry-After") or min(2 ** attempt, 30))


def metadata(width, height):
    """What a detector sends with each frame: JSON text in the *_json fields (shapes in docs/protocol.md)."""
    return {
        "warnings_json": json.dumps({"warning_no_hardhat": {"count": 1}}),
        "cone_polygons_json": json.dumps([[[45, 30], [20, 100], [70, 100]]]),
        "pole_polygons_json": json.dumps([]),
        "detection_items_json": json.dumps([[95, 40, 139, 94, 0.88, 2]]),  # x1, y1, x2, y2, confidence, class
        "width": str(width),  # 0 = unknown
        "height": str(height),
    }


def image_size(image):
    """Width and height of a PNG (from its header); 0, 0 for anything else (the viewer then measures)."""
    if image[:8] == b"\x89PNG\r\n\x1a\n":
        return int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    return 0, 0


def upload_http(tokens, label, key, image, meta):
    """POST /frames as multipart/form-data; retries what can succeed later. True when stored."""
    for attempt in range(8):
        r = requests.post(
            f"{tokens.base_url}/frames",
            headers={"Authorization": f"Bearer {tokens.access_token()}"},
            data={"label": label, "key": key, **meta},
            files={"file": ("frame", image, "application/octet-stream")},
            timeout=10,
        )
        if r.status_code == 200:
            return True
        if r.status_code == 401:  # expired or ended session: refresh (or log in again) and retry
            log(f"upload: 401 {detail(r)}, refreshing")
            tokens.refresh()
        elif r.status_code in (429, 503):  # too many uploads at once / store down: wait and retry
            delay = retry_delay(r, attempt)
            log(f"upload: {r.status_code} {detail(r)}, retrying in {delay:g} s")
            time.sleep(delay)
        elif r.status_code == 403:
            sys.exit(f"upload: 403 {detail(r)} (the account needs the site, as a model_manager)")
        else:  # 4xx: this frame is wrong (the detail says how); retrying would not help
            log(f"upload: frame refused: {r.status_code} {detail(r)}")
            return False
    return False


async def upload_ws(tokens, label, key, image, meta, count, interval):
    """One binary message a frame (JSON header, --IMG--, image), each answered with a JSON reply."""
    ws_url = tokens.base_url.replace("http", "ws", 1) + "/ws/frames"
    header = json.dumps({"label": label, "key": key, **meta}).encode()
    sent = 0
    while sent < count:
        try:
            # The token may also go in an Authorization header; the query works with every client.
            async with websockets.connect(f"{ws_url}?token={quote(tokens.access_token())}") as ws:
                log("connected to /ws/frames")
                while sent < count:
                    await ws.send(header + DELIMITER + image)
                    reply = json.loads(await ws.recv())
                    sent += 1
                    if reply["status"] == "ok":
                        log(f"uploaded frame {sent}/{count}")
                    else:  # the socket stays open: the message names what was wrong with this frame
                        log(f"frame {sent} refused: {reply['message']}")
                    await asyncio.sleep(interval)
        except websockets.ConnectionClosed as e:
            code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (1006, "")
            log(f"closed: {code} {reason}")
            if code == 1008 and reason in ("Token not active", "Invalid token", "Missing authentication token"):
                tokens.refresh()  # new token (or a new session), then reconnect
            elif code == 1008:
                sys.exit(f"not allowed: {reason}")
            else:  # 1001 shutdown, 1013 try again later, 1006 connection lost: reconnect shortly
                await asyncio.sleep(1)
        except OSError as e:
            log(f"cannot connect ({e}), retrying in 2 s")
            await asyncio.sleep(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("label", help="site name")
    parser.add_argument("key", help="camera name")
    parser.add_argument("--image", default=str(Path(__file__).parent.parent / "frame.png"), help="JPEG or PNG file to send")
    parser.add_argument("--via", choices=["http", "ws"], default="http")
    parser.add_argument("--count", type=int, default=10, help="frames to send")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between frames")
    args = parser.parse_args()

    base_url = os.environ.get("FRAMESTREAM_URL", "http://127.0.0.1:8000").rstrip("/")
    tokens = Tokens(base_url, os.environ["FRAMESTREAM_USERNAME"], os.environ["FRAMESTREAM_PASSWORD"])
    image = Path(args.image).read_bytes()
    meta = metadata(*image_size(image))

    if args.via == "ws":
        asyncio.run(upload_ws(tokens, args.label, args.key, image, meta, args.count, args.interval))
        return
    for n in range(1, args.count + 1):
        if upload_http(tokens, args.label, args.key, image, meta):
            log(f"uploaded frame {n}/{args.count}")
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
