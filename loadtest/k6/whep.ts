/**
 * WHEP session setups per second against a live stream of a deployment
 * (draft-ietf-wish-whep): every iteration POSTs a browser's recvonly offer to
 * `{BASE_URL}/whep/{STREAM_ID}`, expects 201 with an SDP answer and a `Location`, then
 * DELETEs that location and expects 200. No ICE or DTLS runs: this loads the signalling plane
 * (edge choice, SDP answer, mediasoup transport and consumers per viewer). In a cluster the
 * POST may be redirected (307) to an edge; k6 follows it and the `Location` is resolved
 * against the edge that answered.
 *
 *   k6 run -e BASE_URL=https://live.example.com -e STREAM_ID=... loadtest/k6/whep.ts
 *
 * The stream must be live (publish to it with OBS or the /publish page first), or every POST
 * answers 409; `setup()` checks that once and stops with a clear message.
 */
import { check, fail } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  baseOptions,
  baseUrl,
  bodyText,
  env,
  header,
  p95Thresholds,
  rampingArrivalRate,
  requiredEnv,
  resolveLocation,
} from './common.ts';

/** A Chrome recvonly offer: Opus, VP8, VP9, AV1 and several H.264 profiles. */
const OFFER = open('./fixtures/w1-whep-browser.sdp');

const DEFAULTS = { rate: 20, maxVUs: 60 };
const WHEP_URL = env(
  'WHEP_URL',
  `${baseUrl()}/whep/${encodeURIComponent(requiredEnv('STREAM_ID'))}`,
);
const SDP_HEADERS = { 'Content-Type': 'application/sdp' };

const base = baseOptions(rampingArrivalRate(DEFAULTS));
export const options: Options = {
  ...base,
  thresholds: { ...base.thresholds, ...p95Thresholds(['whep-post', 'whep-delete'], 1000) },
};

const sessions = new Counter('whep_sessions');

/** Fails the test at once when the stream is unknown or not live. */
export function setup(): void {
  const probe = http.post(WHEP_URL, OFFER, {
    headers: SDP_HEADERS,
    tags: { name: 'setup-probe' },
    responseCallback: http.expectedStatuses(201, 404, 409),
  });
  if (probe.status === 404) fail(`no stream at ${WHEP_URL}: check STREAM_ID`);
  if (probe.status === 409) fail(`the stream at ${WHEP_URL} is not live: publish to it first`);
  const location = header(probe.headers, 'Location');
  if (probe.status !== 201 || location === undefined) {
    fail(`WHEP probe returned ${probe.status}: ${bodyText(probe.body)}`);
  }
  http.del(resolveLocation(location, probe.url), null, { tags: { name: 'setup-probe' } });
}

export default function (): void {
  const post = http.post(WHEP_URL, OFFER, { headers: SDP_HEADERS, tags: { name: 'whep-post' } });
  const location = header(post.headers, 'Location');
  const created = check(post, {
    'WHEP POST is 201': (r) => r.status === 201,
    'WHEP answer is SDP': (r) => bodyText(r.body).includes('v=0'),
    'WHEP POST has a Location': () => location !== undefined,
  });
  if (!created || location === undefined) return;

  const del = http.del(resolveLocation(location, post.url), null, {
    tags: { name: 'whep-delete' },
  });
  if (check(del, { 'WHEP DELETE is 200': (r) => r.status === 200 })) sessions.add(1);
}
