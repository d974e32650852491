// A viewer message as the bytes of one WebSocket binary frame (RFC 6455 §5.2: FIN set, opcode 2,
// no mask, as a server sends it). Built once per frame, so the fan-out writes the very same buffer
// to every viewer's socket: no per-viewer frame header, cork or two-buffer writev as ws.send does.

/** Bytes of the frame header before a payload of this length. */
export function wsHeaderLength(payloadLength: number): number {
  return payloadLength < 126 ? 2 : payloadLength < 65536 ? 4 : 10;
}

/** Writes the header of a final, unmasked binary frame at the start of `buf`. */
export function writeWsHeader(buf: Buffer, payloadLength: number): void {
  buf[0] = 0x82; // FIN + binary
  if (payloadLength < 126) {
    buf[1] = payloadLength;
  } else if (payloadLength < 65536) {
    buf[1] = 126;
    buf.writeUInt16BE(payloadLength, 2);
  } else {
    buf[1] = 127;
    buf.writeUInt32BE(Math.floor(payloadLength / 2 ** 32), 2);
    buf.writeUInt32BE(payloadLength >>> 0, 6);
  }
}
