// Bounded HTTP work per connection. HTTP/1.1 answers a connection's requests in order, so a request
// pipelined behind another gains nothing from being handled early: it would only build its answer
// to wait in memory behind one the client may never read. So one request per connection runs at a
// time, a few wait (handler not yet run), and the rest are refused with 503 and the connection closed.
import type { Socket } from "node:net";
import type { NextFunction, Request, Response } from "express";

/** Requests that may wait behind the running one on a connection. */
export const MAX_WAITING_PER_CONNECTION = 4;

interface ConnectionWork {
  running: boolean;
  waiting: (() => void)[];
}

export function onePerConnection(maxWaiting = MAX_WAITING_PER_CONNECTION) {
  const work = new WeakMap<Socket, ConnectionWork>();
  return (req: Request, res: Response, next: NextFunction): void => {
    let w = work.get(req.socket);
    if (w === undefined) work.set(req.socket, (w = { running: false, waiting: [] }));
    const conn = w;
    const run = (): void => {
      conn.running = true;
      // "close" comes once the answer is finished or the connection is gone, whichever is first.
      res.once("close", () => {
        conn.running = false;
        conn.waiting.shift()?.();
      });
      next();
    };
    if (!conn.running) return run();
    if (conn.waiting.length < maxWaiting) return void conn.waiting.push(run);
    res.set("Connection", "close");
    res.status(503).json({ error: `more than ${maxWaiting} requests waiting on one connection`, code: "too_many_pipelined" });
  };
}

/** At most `max` at once of one costly route (a capture download); past that, 503 at once. */
export function atMost(max: number, what: string) {
  let running = 0;
  return (_req: Request, res: Response, next: NextFunction): void => {
    if (running >= max) {
      res.set("Retry-After", "5");
      return void res.status(503).json({ error: `${max} ${what} already running; try again later`, code: "busy" });
    }
    running++;
    res.once("close", () => running--);
    next();
  };
}
