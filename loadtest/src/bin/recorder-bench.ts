/**
 * `npm run bench:recorder`: what recording costs and how fast it finishes, measured on this
 * machine with the real platform in this process. For each path (copy: OBS-like H.264;
 * encode: libwebrtc VP8), one 720p30 broadcast is published for `--seconds` (default 20)
 * and the recorder's ffmpeg CPU is read from /proc over the middle of it; then the
 * broadcast ends and the time until the recording is `ready` is taken. Prints a table.
 */
import { readFile, readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ObsLikePublisher, WrtcPublisher } from '@wisp/loadtest';
import { startLocalPlatform } from '../../../server/src/local.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
const seconds = Number(values.seconds ?? 20);
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) of every ffmpeg whose command line names `dir`. */
async function ffmpegCpu(dir: string): Promise<number> {
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.startsWith('ffmpeg') || !cmdline.includes(dir)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(fields[11]) + Number(fields[12])) / TICKS;
  }
  return total;
}

function processCpu(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const t = await startLocalPlatform({ RECORDINGS: 'on', LOG_LEVEL: 'warn' });
const rows: string[] = [];
try {
  for (const path of ['copy', 'encode'] as const) {
    const stream = await t.createStream(`bench ${path}`);
    const publisher =
      path === 'copy'
        ? await ObsLikePublisher.start({
            whipUrl: stream.whipUrl,
            streamKey: stream.streamKey,
            width: 1280,
            height: 720,
            fps: 30,
          })
        : await WrtcPublisher.start({
            whipUrl: stream.whipUrl,
            streamKey: stream.streamKey,
            width: 1280,
            height: 720,
            fps: 30,
          });
    await sleep(Math.min(5000, (seconds * 1000) / 4));
    const spool = `${t.dataDir}/spool`;
    const window = (seconds * 1000) / 2;
    const ffmpegBefore = await ffmpegCpu(spool);
    const nodeBefore = processCpu();
    await sleep(window);
    const ffmpegShare = (await ffmpegCpu(spool)) - ffmpegBefore;
    const nodeShare = processCpu() - nodeBefore;
    await sleep(Math.max(0, seconds * 1000 - window - 5000));
    await publisher.close();
    const ended = Date.now();
    let readyMs = NaN;
    let media = '';
    for (let i = 0; i < 200; i++) {
      const body = (await (await t.api(`/api/streams/${stream.id}/recordings`)).json()) as {
        recordings: { status: string; durationSeconds: number; error?: string }[];
      };
      const r = body.recordings[0];
      if (r?.status === 'ready' || r?.status === 'failed') {
        readyMs = Date.now() - ended;
        media = `${r.status}, ${r.durationSeconds} s${r.error ? ` (${r.error})` : ''}`;
        break;
      }
      await sleep(50);
    }
    rows.push(
      `| ${path} | ${((ffmpegShare / (window / 1000)) * 100).toFixed(1)} % | ` +
        `${((nodeShare / (window / 1000)) * 100).toFixed(1)} % | ${readyMs} ms | ${media} |`,
    );
  }
} finally {
  await t.stop();
}
process.stdout.write(
  [
    `recorder benchmark: one 720p30 broadcast per path, CPU over ${seconds / 2} s in its middle`,
    '',
    '| path | ffmpeg CPU (of one core) | platform process CPU (SFU, relay, publisher peer) | end to ready | recording |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
