/** Port helpers: pick free loopback ports, wait for a listener. */
import net from 'node:net';

/** Asks the kernel for a free port on 127.0.0.1 (bind to 0, read it back, release it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Distinct free ports (a set guards against the kernel handing the same one out twice). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns true or `timeoutMs` passes; the error names what was awaited and,
 * through `hint`, where to look (usually a log file). `giveUp` is asked before every probe: a reason it
 * returns (the awaited process has exited, the start-up was aborted) is thrown at once, since waiting
 * out the timeout for something that can no longer answer only hides the cause for minutes.
 */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  {
    timeoutMs = 60_000,
    intervalMs = 200,
    hint = '',
    giveUp,
  }: { timeoutMs?: number; intervalMs?: number; hint?: string; giveUp?: () => string | undefined } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  const wait: PendingWait = { what, since: Date.now() };
  pending.add(wait);
  try {
    while (Date.now() < deadline) {
      const reason = giveUp?.();
      if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}`);
      try {
        wait.probingSince = Date.now();
        if (await probe()) return;
      } catch (error) {
        lastError = error;
      } finally {
        wait.probingSince = undefined;
      }
      await sleep(intervalMs);
    }
  } finally {
    pending.delete(wait);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}${hint ? `; ${hint}` : ''}`);
}

interface PendingWait {
  what: string;
  since: number;
  /** Set while a probe runs: a probe that never answers (a hung client call) outlives its wait's timeout. */
  probingSince?: number;
}
const pending = new Set<PendingWait>();

/**
 * The `waitFor`s in progress, oldest first, as one line each: what a case that overran its budget was
 * stuck on (lab/kit says it when it gives the case up), and whether a probe itself hangs.
 */
export function pendingWaits(now = Date.now()): string[] {
  return [...pending].map((w) => `${w.what} (for ${Math.round((now - w.since) / 1000)} s${w.probingSince !== undefined && now - w.probingSince >= 5000 ? `; its probe has not answered for ${Math.round((now - w.probingSince) / 1000)} s` : ''})`);
}
