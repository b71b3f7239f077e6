/**
 * Runs a WrtcPublisher in a child process so a test can SIGKILL it: a crashed client sends
 * nothing (no DELETE, no DTLS close_notify), which is what the server must detect.
 * Usage (child): node --import tsx publisherProcess.ts <whipUrl> <streamKey>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WrtcPublisher } from '@wisp/loadtest';

export function spawnPublisher(
  whipUrl: string,
  streamKey: string,
): {
  child: ChildProcess;
  ready: Promise<void>;
} {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', import.meta.filename, whipUrl, streamKey],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('publisher process did not connect in 15 s')),
      15_000,
    );
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('CONNECTED')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`publisher process exited early (${code})`));
    });
  });
  return { child, ready };
}

if (process.argv[1] === import.meta.filename) {
  const [whipUrl, streamKey] = process.argv.slice(2) as [string, string];
  const publisher = await WrtcPublisher.start({ whipUrl, streamKey });
  await publisher.waitConnected(10_000);
  process.stdout.write('CONNECTED\n');
  // Keep publishing until killed.
  setInterval(() => undefined, 1000);
}
