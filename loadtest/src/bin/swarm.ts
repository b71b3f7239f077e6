/**
 * A swarm of real WebRTC WHEP viewers against a stream of YOUR OWN platform:
 *
 *   node --import tsx loadtest/src/bin/swarm.ts --whep http://127.0.0.1:8080/whep/<id> \
 *     --viewers 50 --ramp 10 --duration 30 --kind ndc
 *
 * Only point it at a deployment you run and may load: every viewer is a full ICE + DTLS +
 * SRTP session pulling the whole stream. Hosts other than loopback are refused unless
 * `--allow-remote` is given, which is meant for your own staging servers, never for someone
 * else's service.
 */
import { parseArgs } from 'node:util';
import { Swarm } from '../swarm/Swarm.ts';
import { StatusLine, formatSummary } from '../swarm/swarmFormat.ts';
import { isLoopbackHost } from '../swarm/swarmOptions.ts';
import type { SwarmKind } from '../swarm/types.ts';

const USAGE = `Usage: node --import tsx loadtest/src/bin/swarm.ts --whep <url> [options]

  --whep <url>        WHEP endpoint of a live stream on your own platform (required)
  --viewers <n>       viewers to join (default 10)
  --ramp <n>          joins per second (default 5)
  --duration <s>      total run time in seconds, ramp included (default 30, max 3600)
  --kind <k>          ndc (cheap, counts RTP), wrtc (decodes, libwebrtc) or mix (default ndc)
  --wrtc-share <f>    with --kind mix, the share of decoding viewers (default 0.1)
  --token <t>         bearer token for the WHEP endpoint, if it wants one
  --json              print the summary and per-viewer stats as JSON at the end
  --allow-remote      allow a non-loopback host: ONLY for a deployment you run yourself
  -h, --help          this text

Each viewer is a real WebRTC session (ICE, DTLS, SRTP). Loopback hosts only by default.`;

function fail(message: string): never {
  console.error(`swarm: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function numberArg(value: string | undefined, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) fail(`--${name} must be a number in (0, ${max}]`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      whep: { type: 'string' },
      viewers: { type: 'string' },
      ramp: { type: 'string' },
      duration: { type: 'string' },
      kind: { type: 'string' },
      'wrtc-share': { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean', default: false },
      'allow-remote': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.whep) fail('--whep is required');
  let url: URL;
  try {
    url = new URL(values.whep);
  } catch {
    fail(`--whep is not a URL: ${values.whep}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('--whep must be http(s)');
  if (!isLoopbackHost(url.hostname) && !values['allow-remote']) {
    fail(
      `refusing ${url.hostname}: not a loopback address. Pass --allow-remote only to load a ` +
        'deployment you run yourself.',
    );
  }
  const viewers = numberArg(values.viewers, 'viewers', 10, 2000);
  if (!Number.isInteger(viewers)) fail('--viewers must be an integer');
  const kind = (values.kind ?? 'ndc') as SwarmKind;
  if (!['ndc', 'wrtc', 'mix'].includes(kind)) fail('--kind must be ndc, wrtc or mix');
  const durationMs = numberArg(values.duration, 'duration', 30, 3600) * 1000;
  const wrtcShare = values['wrtc-share'] === undefined ? 0.1 : Number(values['wrtc-share']);
  if (!(wrtcShare >= 0 && wrtcShare <= 1)) fail('--wrtc-share must be within 0..1');

  const status = new StatusLine(process.stdout);
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    status.done();
    console.log('stopping: closing viewers (Ctrl-C again to exit at once)');
    abort.abort();
  };
  process.on('SIGINT', onSigint);

  console.log(
    `swarm: ${viewers} ${kind} viewers at ${values.ramp ?? 5}/s for ${durationMs / 1000} s -> ${url.href}`,
  );
  const startedAt = Date.now();
  let swarm: Swarm | undefined;
  try {
    swarm = await Swarm.start({
      whepUrl: url.href,
      viewers,
      kind,
      wrtcShare,
      rampPerSecond: numberArg(values.ramp, 'ramp', 5, 500),
      token: values.token,
      // The swarm's own bound sits a little past the run, in case the wait below is skipped.
      maxDurationMs: durationMs + 30_000,
      signal: abort.signal,
      onProgress: (progress) => status.update(progress.line),
    });
    const remainingMs = durationMs - (Date.now() - startedAt);
    if (remainingMs > 0 && !abort.signal.aborted) await abortableSleep(remainingMs, abort.signal);
    status.done();
    const summary = swarm.summary();
    for (const line of formatSummary(summary)) console.log(line);
    if (values.json) {
      console.log(JSON.stringify({ summary, viewers: swarm.viewerStats() }, null, 2));
    }
    return summary.counts.failed > 0 ? 1 : 0;
  } finally {
    status.done();
    await swarm?.close();
    process.off('SIGINT', onSigint);
  }
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// @roamhq/wrtc 0.10 crashes when a process exits normally with wrtc objects alive, so the
// process always ends through process.exit (see the loadtest README).
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('swarm failed:', error);
    process.exit(1);
  },
);
