// The open producer sockets (WS /ws/frames), each with its way of ending: after answering the frame
// it is storing, storing none behind it. A producer sends an unanswered frame again on its next
// socket (maybe to another instance), so a frame stored unanswered would be shown twice. A shutdown
// ends producer sockets this way; a viewer socket has no answer to wait for and is closed at once.
import type { WebSocket } from 'ws';

export type EndSocket = (code: number, reason: string) => void;

export class ProducerSockets {
  private readonly ends = new Map<WebSocket, EndSocket>();

  add(ws: WebSocket, end: EndSocket): void {
    this.ends.set(ws, end);
    ws.once('close', () => this.ends.delete(ws));
  }

  /** Ends `ws` as a producer socket ends, if it is one; false if it is not. */
  end(ws: WebSocket, code: number, reason: string): boolean {
    const end = this.ends.get(ws);
    if (!end) return false;
    end(code, reason);
    return true;
  }
}
