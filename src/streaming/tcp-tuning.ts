// Per-socket TCP_NOTSENT_LOWAT: how many not-yet-sent bytes the kernel may queue for one viewer.
// Why: the viewer queue (viewer-socket.ts) can only skip stale frames that it still holds. Linux
// lets each TCP connection queue up to tcp_wmem's maximum (4 MB) in the kernel, so a viewer reading
// 100 KB/s would otherwise get 40 s old frames from the kernel's queue, and no write completes long
// enough for it to be closed as stalled. With this option the kernel keeps about `bytes` unsent and
// the rest stays in the service's latest-wins queue. Node.js has no setsockopt, so a small native
// addon (native/tcp_tuning.c, built by `npm ci`) does it; without it the service runs as before
// and says so at start-up (the host-wide sysctl net.ipv4.tcp_notsent_lowat does the same job).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';

interface Native {
  /** False where the OS has no TCP_NOTSENT_LOWAT. */
  supported: boolean;
  setNotsentLowat(fd: number, bytes: number): number;
  getNotsentLowat(fd: number): number;
}

const ADDON = path.join('build', 'Release', 'tcp_tuning.node');

/** The addon, looked up from this module's folder upwards (src/ under tests, dist/src/ when built). */
function loadAddon(): Native | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const file = path.join(dir, ADDON);
    if (fs.existsSync(file)) {
      try {
        return createRequire(import.meta.url)(file) as Native;
      } catch {
        return null;
      }
    }
    dir = path.dirname(dir);
  }
  return null;
}

const addon = loadAddon();

/** The socket's file descriptor, or -1 (not a TCP socket of this process, or not on a POSIX system). */
function fdOf(socket: Socket): number {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' ? fd : -1;
}

/** True when per-socket tuning works here (the addon is built and the OS has the option). */
export const tcpTuningAvailable: boolean = addon?.supported === true;

/** Limits the kernel's unsent bytes for this socket; false when it could not be set. */
export function limitKernelUnsent(socket: Socket, bytes: number): boolean {
  const fd = fdOf(socket);
  return tcpTuningAvailable && fd >= 0 && addon!.setNotsentLowat(fd, bytes) === 0;
}

/** The socket's current limit, or null when it cannot be read (for tests and diagnostics). */
export function kernelUnsentLimit(socket: Socket): number | null {
  const fd = fdOf(socket);
  if (!tcpTuningAvailable || fd < 0) return null;
  const v = addon!.getNotsentLowat(fd);
  return v >= 0 ? v : null;
}
