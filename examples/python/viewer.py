#!/usr/bin/env python3
"""A small framestream viewer: logs in, watches every camera of a site (WS /ws/labels/{label}) and
prints each frame it receives: camera, size, image bytes and warnings.

    export FRAMESTREAM_URL=http://127.0.0.1:8000 FRAMESTREAM_USERNAME=alice FRAMESTREAM_PASSWORD=...
    python3 viewer.py north-gate            # until Ctrl-C
    python3 viewer.py north-gate --frames 5 # stop after 5 frames

Any account linked to the site may watch it. Needs `requests` and `websockets` (Debian:
apt-get install python3-requests python3-websockets). Protocol: docs/protocol.md.
"""
import argparse
import asyncio
import json
import os
import sys
from urllib.parse import quote

import requests
import websockets

DELIMITER = b"--IMG--"

# The words today's detectors use for each warning code; unknown codes are shown as they are.
WARNING_WORDS = {
    "warning_no_hardhat": "{count} people are not wearing a hardhat",
    "warning_no_mask": "{count} people are not wearing a mask",
    "warning_no_safety_vest": "{count} people are not wearing a safety vest",
    "warning_close_to_machinery": "{count} people are too close to machinery",
    "warning_close_to_vehicle": "{count} people are too close to vehicles",
    "warning_people_in_controlled_area": "{count} people have entered the controlled area",
    "warning_people_in_utility_pole_controlled_area": "{count} people have entered the utility pole restricted area",
    "detect_machinery_close_to_pole": "{count} machines are too close to the utility pole",
}


def log(text):
    print(text, flush=True)


def login(base_url):
    r = requests.post(
        f"{base_url}/login",
        json={"username": os.environ["FRAMESTREAM_USERNAME"], "password": os.environ["FRAMESTREAM_PASSWORD"]},
        timeout=10,
    )
    if r.status_code != 200:
        sys.exit(f"login failed: {r.status_code} {r.json().get('detail', r.text)}")
    return r.json()["access_token"]


def parse(message):
    """A frame message: header JSON, the 7 bytes --IMG--, then the image."""
    head, _, image = message.partition(DELIMITER)
    return json.loads(head), image


def warnings_text(text):
    """`warnings` is JSON text: {code: {"count": n}} (today's detectors) or a list of sentences (older ones)."""
    value = json.loads(text) if text else []
    if isinstance(value, dict):
        return [WARNING_WORDS.get(code, code + " ({count})").format(count=(d or {}).get("count", "?")) for code, d in value.items()]
    return [str(sentence) for sentence in value]


def describe(header, image):
    # width and height are strings; "0" means unknown (then the image's own size applies).
    size = f"{header['width']}x{header['height']}" if header["width"] != "0" else "size unknown"
    boxes = json.loads(header["detection_items"] or "[]")
    warnings = "; ".join(warnings_text(header["warnings"])) or "none"
    return f"{header['key']}: {size}, {len(image)} bytes, {len(boxes)} boxes, warnings: {warnings}"


async def watch(base_url, label, max_frames):
    ws_base = base_url.replace("http", "ws", 1)
    token = login(base_url)
    received = 0
    while True:
        # Browsers cannot set headers on a WebSocket, so the token may go in the query (never logged).
        url = f"{ws_base}/ws/labels/{quote(label, safe='')}?token={quote(token)}"
        try:
            async with websockets.connect(url, max_size=16 * 2**20) as ws:
                log(f"watching {label}")
                async for message in ws:
                    if isinstance(message, str):  # text: {"error": "No keys found for label '...'"}
                        log(json.loads(message).get("error", message))
                        continue
                    log(describe(*parse(message)))
                    received += 1
                    if received == max_frames:
                        return
            log("no camera is live yet, retrying in 5 s")  # closed with 1000 after "No keys found"
            await asyncio.sleep(5)
        except websockets.ConnectionClosed as e:
            code, reason = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (1006, "")
            log(f"closed: {code} {reason}")
            if code == 1008 and reason == "Not allowed to view this site":
                sys.exit("this account may not watch that site")
            if code == 1008:  # token expired or session ended: a new session
                token = login(base_url)
            else:  # 1001 shutdown, 1013 too slow / try later, 1006 connection lost
                await asyncio.sleep(1)
        except OSError as e:
            log(f"cannot connect ({e}), retrying in 2 s")
            await asyncio.sleep(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("label", help="site name")
    parser.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: never)")
    args = parser.parse_args()
    base_url = os.environ.get("FRAMESTREAM_URL", "http://127.0.0.1:8000").rstrip("/")
    try:
        asyncio.run(watch(base_url, args.label, args.frames))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
