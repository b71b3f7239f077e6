/**
 * WHIP session setups per second against a deployment (RFC 9725): every iteration POSTs a
 * canned offer with a stream key as the Bearer token, expects 201 with an SDP answer and a
 * `Location`, then DELETEs that location and expects 200. No ICE or DTLS runs: this loads the
 * signalling plane (key check, SDP answer, mediasoup transport and producers per session).
 *
 *   k6 run -e BASE_URL=https://live.example.com -e ADMIN_TOKEN=... loadtest/k6/whip.ts
 *
 * Without `STREAM_KEY(S)`, `setup()` creates one stream per VU (`MAX_VUS`) with the admin
 * token and `teardown()` deletes them, so no two VUs ever publish on one key. With fewer keys
 * than VUs, two VUs can publish on one key at once: the second POST takes the stream over (as
 * an OBS reconnect does) and the first VU's DELETE answers 404, counted in `whip_takeovers`.
 */
import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  baseOptions,
  baseUrl,
  bodyText,
  env,
  header,
  maxVUs,
  p95Thresholds,
  rampingArrivalRate,
  requiredEnv,
  resolveLocation,
} from './common.ts';

/** `OFFER=obs` (default: OBS 30+, Opus + H.264, no candidates) or `OFFER=browser` (VP8). */
const OFFERS: Record<string, string> = {
  obs: open('./fixtures/f7-obs.sdp'),
  browser: open('./fixtures/f2-browser.sdp'),
};
const OFFER_NAME = env('OFFER', 'obs');
const OFFER = OFFERS[OFFER_NAME];
if (OFFER === undefined) throw new Error(`OFFER must be obs or browser, got "${OFFER_NAME}"`);

const DEFAULTS = { rate: 10, maxVUs: 40 };
const BASE_URL = baseUrl();
const WHIP_URL = env('WHIP_URL', `${BASE_URL}/whip`);

const base = baseOptions(rampingArrivalRate(DEFAULTS));
export const options: Options = {
  ...base,
  thresholds: { ...base.thresholds, ...p95Thresholds(['whip-post', 'whip-delete'], 1000) },
};

const sessions = new Counter('whip_sessions');
const takeovers = new Counter('whip_takeovers');

interface SetupData {
  keys: string[];
  /** Streams `setup()` created, which `teardown()` deletes. */
  createdIds: string[];
  /** Fewer keys than VUs: takeovers (DELETE 404) are expected. */
  shared: boolean;
}

function adminHeaders(): Record<string, string> {
  return { Authorization: `Bearer ${requiredEnv('ADMIN_TOKEN')}` };
}

export function setup(): SetupData {
  const vus = maxVUs(DEFAULTS);
  const given = env('STREAM_KEYS', env('STREAM_KEY', ''))
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key !== '');
  if (given.length > 0) return { keys: given, createdIds: [], shared: given.length < vus };

  const keys: string[] = [];
  const createdIds: string[] = [];
  for (let i = 0; i < vus; i++) {
    const res = http.post(`${BASE_URL}/api/streams`, JSON.stringify({ name: `k6 whip ${i}` }), {
      headers: { ...adminHeaders(), 'Content-Type': 'application/json' },
      tags: { name: 'setup-create-stream' },
    });
    const text = bodyText(res.body);
    if (res.status !== 201) fail(`creating a stream returned ${res.status}: ${text}`);
    const stream = JSON.parse(text) as { id?: unknown; streamKey?: unknown };
    if (typeof stream.id !== 'string' || typeof stream.streamKey !== 'string') {
      fail(`POST /api/streams answered without id/streamKey: ${text}`);
    }
    createdIds.push(stream.id);
    keys.push(stream.streamKey);
  }
  return { keys, createdIds, shared: false };
}

export default function (data: SetupData): void {
  const key = data.keys[(exec.vu.idInTest - 1) % data.keys.length];
  const auth = { Authorization: `Bearer ${key}` };
  const post = http.post(WHIP_URL, OFFER, {
    headers: { ...auth, 'Content-Type': 'application/sdp' },
    tags: { name: 'whip-post' },
  });
  const location = header(post.headers, 'Location');
  const created = check(post, {
    'WHIP POST is 201': (r) => r.status === 201,
    'WHIP answer is SDP': (r) => bodyText(r.body).includes('v=0'),
    'WHIP POST has a Location': () => location !== undefined,
  });
  if (!created || location === undefined) return;

  const del = http.del(resolveLocation(location, post.url), null, {
    headers: auth,
    tags: { name: 'whip-delete' },
    ...(data.shared ? { responseCallback: http.expectedStatuses(200, 404) } : {}),
  });
  if (data.shared && del.status === 404) {
    takeovers.add(1);
    return;
  }
  if (check(del, { 'WHIP DELETE is 200': (r) => r.status === 200 })) sessions.add(1);
}

export function teardown(data: SetupData): void {
  for (const id of data.createdIds) {
    http.del(`${BASE_URL}/api/streams/${encodeURIComponent(id)}`, null, {
      headers: adminHeaders(),
      tags: { name: 'teardown-delete-stream' },
    });
  }
}
