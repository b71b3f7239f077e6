/**
 * WHIP (RFC 9725) black-box conformance at the HTTP level, item by item from
 * shared/docs/whip-whep-conformance.md (A-K). Each test is named by its item and level. Offers
 * carry fake fingerprints: sessions never connect; the platform's stop() closes them.
 *
 * Capability flags of this server: AUTH (stream key as Bearer), SESSION_AUTH (the same key on
 * GET/PATCH/DELETE of the session), TRICKLE, RESTART, ICE_LITE.
 *
 * Not covered here, with the reason:
 * - A13, F7, F8, H8, I7, M1-M4: agent-level (need a real ICE/DTLS stack and media); the
 *   media suites with real peers cover them. (F3 below still checks with one STUN Binding
 *   that ICE stops answering after DELETE.) H8 is also N/A for an ICE-lite server.
 * - E5 (MAY): token-in-URL deployments; stream keys are accepted only as Bearer tokens.
 * - G4: N/A, both trickle and ICE restart are supported (no "only one kind" case).
 * - G5: N/A, PATCH is supported.
 * - J2-J4: we never redirect (no load-balancing redirects); J3 (MAY) no overload signalling.
 * - K3: needs a full media session; no extensions are advertised anyway (K1/K2).
 * - L1-L4: deployment (TLS terminates in front of the server) and rate limiting, which we do
 *   not have.
 * - N*, O*: WHEP, in conformance-whep.test.ts (O*: extensions we do not implement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import {
  expectCandidates,
  expectCandidatesAnswerStun,
  expectDirection,
  expectJsepAnswer,
  expectMaxBundle,
  fragmentAttributes,
  isAccepted,
  taggedSection,
  transportOf,
} from '../support/conformance/assertions.ts';
import {
  ORIGIN,
  STRONG_ETAG,
  UUID_V4,
  bearer,
  fieldLines,
  lastSegment,
  linksOf,
  obsIceServers,
  patchFragment,
  postSdp,
  publish,
  rawRequest,
  tokens,
  type RawResponse,
  type WhipSessionHandle,
} from '../support/conformance/http.ts';
import {
  MALFORMED_BODIES,
  SDPFRAG_TYPE,
  SDP_TYPE,
  fixture,
  offerIce,
  parseSdp,
  sessionAttrs,
  tf1,
  tf2,
  trickleFragment,
  unknownAttributes,
  type FixtureName,
} from '../support/conformance/sdp.ts';
import { stunBinding } from '../support/conformance/stun.ts';

const STUN_URL = 'stun:stun.example.net:3478';
const TURN_URL = 'turn:turn.example.net:3478?transport=udp';

let t: TestPlatform;

beforeAll(async () => {
  t = await startPlatform({
    ICE_SERVERS: `${STUN_URL},${TURN_URL}`,
    TURN_USERNAME: 'u',
    TURN_CREDENTIAL: 'p',
    // Sessions never connect (fake fingerprints); keep them for the whole file.
    SESSION_CONNECT_TIMEOUT_MS: '300000',
    MEDIASOUP_WORKERS: '2',
  });
});

afterAll(async () => {
  await t?.stop();
});

const F1_ICE = offerIce(fixture('f1-rfc'));

/** POST {EP} with the stream's key; nothing asserted. */
async function whipPost(
  body: string,
  options: {
    contentType?: string | null;
    token?: string | null;
    headers?: Record<string, string>;
  } = {},
): Promise<{ response: Response; streamId: string; streamKey: string }> {
  const stream = await t.createStream('conformance');
  const token = options.token === undefined ? stream.streamKey : options.token;
  const headers = { ...(token === null ? {} : bearer(token)), ...(options.headers ?? {}) };
  const response = await postSdp(stream.whipUrl, body, {
    contentType: options.contentType,
    headers,
  });
  return { response, streamId: stream.id, streamKey: stream.streamKey };
}

/** A rejected POST: exact status, no Location/ETag, and the stream did not go live. */
async function expectRejectedPost(
  result: { response: Response; streamId: string },
  statuses: number[],
  liveBefore: number,
): Promise<void> {
  const { response, streamId } = result;
  const body = await response.text();
  expect(statuses, `status ${response.status}: ${body}`).toContain(response.status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('etag')).toBeNull();
  expect(t.platform.ingest.isLive(streamId)).toBe(false);
  expect(t.platform.ingest.liveStreamCount).toBe(liveBefore);
}

/** B7: an RFC 9457 problem body whose status matches the response. */
async function expectProblem(response: Response): Promise<void> {
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const problem = (await response.json()) as Record<string, unknown>;
  expect(problem.status).toBe(response.status);
  expect(typeof problem.title).toBe('string');
  expect(typeof problem.type).toBe('string');
}

async function getSession(session: WhipSessionHandle): Promise<number> {
  return (await fetch(session.location, { headers: session.auth })).status;
}

async function trickle(session: WhipSessionHandle, ifMatch: string, body?: string) {
  return patchFragment(session.location, body ?? tf1(fixture('f1-rfc')), {
    ifMatch,
    headers: session.auth,
  });
}

async function deleteSession(session: WhipSessionHandle, headers: Record<string, string> = {}) {
  return fetch(session.location, { method: 'DELETE', headers: { ...session.auth, ...headers } });
}

describe('A. session setup (POST {EP})', () => {
  it('A1 (MUST): a valid offer creates a session: 201 for F1 (RFC shape) and F2 (browser shape)', async () => {
    for (const name of ['f1-rfc', 'f2-browser'] as const) {
      const session = await publish(t, name);
      expect(session.status).toBe(201);
      expect(t.platform.ingest.isLive(session.stream.id)).toBe(true);
    }
  });

  it('A2 (MUST): the 201 has Content-Type application/sdp', async () => {
    for (const name of ['f1-rfc', 'f2-browser'] as const) {
      const session = await publish(t, name);
      const type = session.response.headers.get('content-type') ?? '';
      expect(type.split(';')[0].trim().toLowerCase()).toBe(SDP_TYPE);
    }
  });

  it('A3 (MUST): the 201 body is a JSEP answer (m-lines, mids, offered PTs, one fingerprint, ICE credentials)', async () => {
    for (const name of ['f1-rfc', 'f2-browser', 'f7-obs'] as const) {
      const session = await publish(t, name);
      expectJsepAnswer(fixture(name), session.answer);
    }
  });

  it('A4 (MUST): the 201 has a Location that identifies the new session (absolute, distinct per session)', async () => {
    const first = await publish(t, 'f1-rfc');
    const second = await publish(t, 'f1-rfc');
    for (const session of [first, second]) {
      expect(session.location).not.toBe('');
      const url = new URL(session.location, session.stream.whipUrl);
      expect(['http:', 'https:']).toContain(url.protocol);
      // Absolute (OBS, GStreamer and some players mishandle relative ones, §R.1/§R.4).
      expect(session.location).toBe(url.href);
      expect(await getSession(session)).toBe(200);
    }
    expect(first.location).not.toBe(second.location);
    expect(first.location).not.toBe(first.stream.whipUrl);
  });

  it('A5 (MUST): every answered m-section is recvonly (sendonly F1 and sendrecv F3 offers)', async () => {
    for (const name of ['f1-rfc', 'f3-sendrecv'] as const) {
      const session = await publish(t, name);
      expectDirection(session.sdp, 'recvonly');
      expect(session.sdp.media.every(isAccepted)).toBe(true);
    }
  });

  it('A6 (MUST): a wrong or missing Content-Type is rejected (415) with no session created', async () => {
    const cases: { label: string; contentType: string | null }[] = [
      { label: 'text/plain', contentType: 'text/plain' },
      { label: 'application/json', contentType: 'application/json' },
      { label: 'no Content-Type', contentType: null },
    ];
    for (const { label, contentType } of cases) {
      const before = t.platform.ingest.liveStreamCount;
      const result = await whipPost(fixture('f1-rfc'), { contentType });
      expect(result.response.status, label).toBe(415);
      expect(result.response.headers.get('accept-post')).toBe(SDP_TYPE);
      await expectRejectedPost(result, [415], before);
    }
  });

  it('A7 (MUST): malformed SDP is rejected (400) with no Location and no session', async () => {
    for (const { label, body } of MALFORMED_BODIES) {
      const before = t.platform.ingest.liveStreamCount;
      const result = await whipPost(body);
      expect(result.response.status, label).toBe(400);
      await expectRejectedPost(result, [400], before);
    }
  });

  it('A8 (MUST): the answer carries the full server candidate list in the tagged m-section', async () => {
    for (const name of ['f1-rfc', 'f7-obs', 'f7v-obs-video-only'] as const) {
      const session = await publish(t, name);
      const candidates = expectCandidates(session.sdp);
      // Every candidate the server has is already there: the same set in every bundled section.
      for (const media of session.sdp.media.filter(isAccepted)) {
        expect((media.candidates ?? []).length).toBe(candidates.length);
      }
      expect(taggedSection(session.sdp).endOfCandidates).toBe('end-of-candidates');
    }
  });

  it('A9 (MUST): the answer DTLS role is valid (actpass -> active|passive; FFmpeg passive -> active)', async () => {
    const actpass = await publish(t, 'f1-rfc');
    for (const media of actpass.sdp.media.filter(isAccepted)) {
      expect(['active', 'passive']).toContain(transportOf(actpass.sdp, media).setup);
    }
    const passive = await publish(t, 'f6-ffmpeg');
    for (const media of passive.sdp.media.filter(isAccepted)) {
      expect(transportOf(passive.sdp, media).setup).toBe('active');
    }
  });

  it('A10 (SHOULD): a setup:active offer gets 201 with setup:passive, or 422/400', async () => {
    const before = t.platform.ingest.liveStreamCount;
    const result = await whipPost(fixture('f5-active'));
    if (result.response.status === 201) {
      const sdp = parseSdp(await result.response.text());
      for (const media of sdp.media.filter(isAccepted)) {
        expect(transportOf(sdp, media).setup).toBe('passive');
      }
    } else {
      await expectRejectedPost(result, [400, 422], before);
    }
  });

  it('A11 (INTEROP): recvonly (F4) and inactive (F4b) offers are rejected with 4xx (422), no session', async () => {
    for (const name of ['f4-recvonly', 'f4b-inactive'] as const) {
      const before = t.platform.ingest.liveStreamCount;
      const result = await whipPost(fixture(name));
      expect(result.response.status, name).toBe(422);
      await expectRejectedPost(result, [422], before);
    }
  });

  it('A12 (INTEROP): Content-Type parameters are tolerated (application/sdp; charset=utf-8 -> 201)', async () => {
    const result = await whipPost(fixture('f1-rfc'), {
      contentType: 'application/sdp; charset=utf-8',
    });
    expect(result.response.status).toBe(201);
    expect(result.response.headers.get('location')).not.toBeNull();
  });

  it('A14 (INTEROP): typical client offers are accepted (FFmpeg F6, OBS F7, F7a audio-only, F7v video-only)', async () => {
    for (const name of [
      'f6-ffmpeg',
      'f7-obs',
      'f7a-obs-audio-only',
      'f7v-obs-video-only',
    ] as const) {
      const session = await publish(t, name);
      expect(session.status, name).toBe(201);
      expect(session.sdp.media.length).toBe(parseSdp(fixture(name)).media.length);
      expect(session.sdp.media.every(isAccepted)).toBe(true);
    }
  });

  it('A15 (INTEROP): answers fit FFmpeg 8.0 MAX_SDP_SIZE (<= 8192 bytes)', async () => {
    for (const name of ['f6-ffmpeg', 'f7-obs', 'f2-browser'] as const) {
      const session = await publish(t, name);
      expect(Buffer.byteLength(session.answer), name).toBeLessThanOrEqual(8192);
    }
  });
});

describe('B. WebRTC constraints', () => {
  it('B1 (MUST): max-bundle: BUNDLE lists every accepted mid, one shared transport; F1 port-0 bundle-only video is accepted', async () => {
    const f1 = await publish(t, 'f1-rfc');
    expectMaxBundle(f1.sdp);
    const video = f1.sdp.media.find((m) => m.type === 'video')!;
    expect(isAccepted(video), 'bundle-only video m-line accepted').toBe(true);
    expect(video.direction).toBe('recvonly');
    const f2 = await publish(t, 'f2-browser');
    expectMaxBundle(f2.sdp);
    expect(f2.sdp.media.every(isAccepted)).toBe(true);
  });

  it('B2 (MUST): every bundled m-section of the answer has a=rtcp-mux', async () => {
    for (const name of ['f1-rfc', 'f2-browser', 'f6-ffmpeg'] as const) {
      const session = await publish(t, name);
      for (const media of session.sdp.media.filter(isAccepted)) {
        expect(media.rtcpMux, `${name} mid ${media.mid}`).toBe('rtcp-mux');
      }
    }
  });

  it('B3 (MUST, spec conflict RFC 9725 vs RFC 8858 -> WARN only): rtcp-mux-only, if present, is consistent and never without rtcp-mux', async () => {
    const session = await publish(t, 'f1-rfc');
    const accepted = session.sdp.media.filter(isAccepted);
    const withMuxOnly = accepted.filter((m) => unknownAttributes(m).includes('rtcp-mux-only'));
    // Either every bundled section carries it (RFC 9725 example) or none does (RFC 8858 §4.3).
    expect([0, accepted.length]).toContain(withMuxOnly.length);
    for (const media of withMuxOnly) expect(media.rtcpMux).toBe('rtcp-mux');
  });

  it('B4 (INTEROP): offers lacking rtcp-mux-only / bundle-only (browser F2, FFmpeg F6) are accepted', async () => {
    for (const name of ['f2-browser', 'f6-ffmpeg'] as const) {
      const result = await whipPost(fixture(name));
      expect(result.response.status, name).toBe(201);
    }
  });

  it('B5 (MUST): more tracks than supported: 201 with every m-section accepted, or 422/400 (never a partial 201)', async () => {
    const twoStreams = fixture('f1-rfc').replace(
      'a=msid:d46fb922-d52a-4e9c-aa87-444eadc1521b 3956b460',
      'a=msid:0b2f0d3e-second-stream-id-5f0a 3956b460',
    );
    expect(twoStreams).not.toBe(fixture('f1-rfc'));
    for (const [label, body] of [
      ['F8 two video tracks', fixture('f8-two-video')],
      ['F1 with two msid stream ids', twoStreams],
    ] as const) {
      const before = t.platform.ingest.liveStreamCount;
      const result = await whipPost(body);
      if (result.response.status === 201) {
        const sdp = parseSdp(await result.response.text());
        expect(sdp.media.length, label).toBe(parseSdp(body).media.length);
        expect(sdp.media.every(isAccepted), `${label}: no rejected m-line`).toBe(true);
      } else {
        await expectRejectedPost(result, [400, 422], before);
      }
    }
  });

  it('B6 (SHOULD): an unsupported codec (F10) gets 422/400, not a partially successful 201', async () => {
    const before = t.platform.ingest.liveStreamCount;
    const result = await whipPost(fixture('f10-unknown-codec'));
    await expectRejectedPost(result, [400, 422], before);
  });

  it('B7 (MAY): error responses are RFC 9457 problem details (400, 401, 404, 412, 415, 422, 428)', async () => {
    await expectProblem((await whipPost('hello')).response);
    await expectProblem((await whipPost(fixture('f1-rfc'), { token: null })).response);
    await expectProblem(
      (await whipPost(fixture('f1-rfc'), { contentType: 'text/plain' })).response,
    );
    await expectProblem((await whipPost(fixture('f10-unknown-codec'))).response);
    const session = await publish(t, 'f1-rfc');
    await expectProblem(await trickle(session, '"stale-etag"'));
    await expectProblem(
      await patchFragment(session.location, tf1(fixture('f1-rfc')), { headers: session.auth }),
    );
    await expectProblem(
      await fetch(`${t.baseUrl}/whip/00000000-0000-4000-8000-000000000000`, {
        method: 'DELETE',
        headers: session.auth,
      }),
    );
  });

  it('B8 (MUST if simulcast is accepted): simulcast answers use a=simulcast:recv with matching a=rid recv (F9 h;l, OBS F7s 0;1;2 all)', async () => {
    for (const [name, rids] of [
      ['f9-simulcast', ['h', 'l']],
      ['f7s-obs-simulcast', ['0', '1', '2']],
    ] as const) {
      const session = await publish(t, name);
      const video = session.sdp.media.find((m) => m.type === 'video')!;
      expect(isAccepted(video)).toBe(true);
      if (!video.simulcast) continue; // Declining simulcast (video still accepted) also passes.
      expect(video.simulcast.dir1).toBe('recv');
      const answered = video.simulcast.list1.split(';').map((alt) => alt.split(',')[0]);
      for (const rid of answered) expect(rids as readonly string[]).toContain(rid);
      expect((video.rids ?? []).map((r) => [String(r.id), r.direction])).toEqual(
        answered.map((rid) => [rid, 'recv']),
      );
      // OBS aborts unless every layer is accepted (field-notes §1).
      if (name === 'f7s-obs-simulcast') expect(answered).toEqual([...rids]);
    }
  });

  it('B9 (SHOULD): with a=ice-lite the host candidates are reachable (STUN Binding answered on each UDP candidate)', async () => {
    const session = await publish(t, 'f1-rfc');
    expect(sessionAttrs(session.sdp).icelite).toBe('ice-lite');
    await expectCandidatesAnswerStun(session.sdp, F1_ICE.ufrag);
  });
});

describe('C. OPTIONS and CORS', () => {
  const preflight = (url: string, method: string, requestHeaders: string): Promise<Response> =>
    fetch(url, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': method,
        'Access-Control-Request-Headers': requestHeaders,
      },
    });

  const expectAllowOrigin = (response: Response): void => {
    expect(['*', ORIGIN]).toContain(response.headers.get('access-control-allow-origin'));
  };

  it('C1 (MUST): OPTIONS {EP} answers 2xx', async () => {
    const response = await fetch(`${t.baseUrl}/whip`, { method: 'OPTIONS' });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
  });

  it('C2 (SHOULD): OPTIONS {EP} has Accept-Post: application/sdp', async () => {
    const response = await fetch(`${t.baseUrl}/whip`, { method: 'OPTIONS' });
    expect(tokens(response.headers.get('accept-post'))).toContain(SDP_TYPE);
  });

  it('C3 (MUST): the CORS preflight for POST succeeds and lists authorization and content-type explicitly', async () => {
    const response = await preflight(`${t.baseUrl}/whip`, 'POST', 'authorization, content-type');
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expectAllowOrigin(response);
    expect(tokens(response.headers.get('access-control-allow-methods'))).toContain('post');
    const allowed = tokens(response.headers.get('access-control-allow-headers'));
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('content-type');
  });

  it('C4 (MUST): preflights are not auth-gated (no Authorization, endpoint and session URL)', async () => {
    const session = await publish(t, 'f1-rfc');
    for (const [url, method] of [
      [`${t.baseUrl}/whip`, 'POST'],
      [session.location, 'PATCH'],
      [session.location, 'DELETE'],
    ] as const) {
      const response = await preflight(url, method, 'authorization, content-type, if-match');
      expect(response.status, `${method} ${url}`).toBe(200);
      expect(response.headers.get('www-authenticate')).toBeNull();
      expectAllowOrigin(response);
      expect(tokens(response.headers.get('access-control-allow-methods'))).toContain(
        method.toLowerCase(),
      );
    }
  });

  it('C5 (MUST): the 201 to a cross-origin POST is readable (Allow-Origin, Expose-Headers Location, ETag, Link)', async () => {
    const result = await whipPost(fixture('f1-rfc'), { headers: { Origin: ORIGIN } });
    expect(result.response.status).toBe(201);
    expectAllowOrigin(result.response);
    const exposed = tokens(result.response.headers.get('access-control-expose-headers'));
    for (const name of ['location', 'etag', 'link']) expect(exposed).toContain(name);
  });

  it('C6 (SHOULD): the preflight on {S} allows PATCH and DELETE with if-match, content-type, authorization', async () => {
    const session = await publish(t, 'f1-rfc');
    for (const method of ['PATCH', 'DELETE']) {
      const response = await preflight(
        session.location,
        method,
        'authorization, content-type, if-match',
      );
      expect(response.status).toBeGreaterThanOrEqual(200);
      expect(response.status).toBeLessThan(300);
      expectAllowOrigin(response);
      expect(tokens(response.headers.get('access-control-allow-methods'))).toContain(
        method.toLowerCase(),
      );
      const allowed = tokens(response.headers.get('access-control-allow-headers'));
      for (const name of ['if-match', 'content-type', 'authorization']) {
        expect(allowed).toContain(name);
      }
    }
  });

  it('C7 (SHOULD NOT): no ice-server Link headers on the CORS preflight', async () => {
    const response = await rawRequest(`${t.baseUrl}/whip`, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'authorization, content-type',
      },
    });
    expect(response.status).toBe(200);
    expect(fieldLines(response, 'link')).toEqual([]);
  });

  it('C8 (MAY): a plain OPTIONS {EP} with the token returns the configured ice-server Links', async () => {
    const stream = await t.createStream('conformance');
    const response = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: bearer(stream.streamKey),
    });
    expect(response.status).toBe(200);
    const links = linksOf(response).filter((l) => l.params.rel === 'ice-server');
    expect(links.map((l) => l.uri)).toEqual([STUN_URL, TURN_URL]);
  });
});

describe('D. STUN/TURN Link headers', () => {
  async function rawPublish(): Promise<RawResponse> {
    const stream = await t.createStream('conformance');
    return rawRequest(stream.whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE, ...bearer(stream.streamKey) },
      body: fixture('f1-rfc'),
    });
  }

  it('D1 (MUST): each ice-server Link is <stun:|stuns:|turn:|turns: URI>; rel="ice-server" (201 and OPTIONS)', async () => {
    const stream = await t.createStream('conformance');
    const options = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: bearer(stream.streamKey),
    });
    // TURN servers only for a caller with the key (server/test/integration/turn.test.ts).
    const anonymous = await rawRequest(stream.whipUrl, { method: 'OPTIONS' });
    for (const response of [await rawPublish(), options, anonymous]) {
      const links = linksOf(response);
      const expected = response === anonymous ? [STUN_URL] : [STUN_URL, TURN_URL];
      expect(links.map((l) => l.uri)).toEqual(expected);
      for (const link of links) {
        expect(link.params.rel).toBe('ice-server');
        expect(link.uri).toMatch(/^(stuns?|turns?):[^\s?<>]+(\?transport=(udp|tcp))?$/);
      }
    }
  });

  it('D2 (MUST): TURN credentials are username="..." and credential="..." (with =), credential-type absent or "password"', async () => {
    const response = await rawPublish();
    const turn = linksOf(response).filter((l) => /^turns?:/.test(l.uri));
    expect(turn.length).toBe(1);
    for (const link of turn) {
      expect(link.params.username).toBe('u');
      expect(link.params.credential).toBe('p');
      if ('credential-type' in link.params) expect(link.params['credential-type']).toBe('password');
    }
    // The raw text uses name="value" (not gst's name:"value").
    for (const line of fieldLines(response, 'link')) {
      expect(line).not.toMatch(/(username|credential):"/);
    }
  });

  // Regression: Node merged repeated Link headers into one line joined by ", ", and OBS splits
  // on "," without trimming, so it dropped every server after the first. addLinks() now joins
  // them with "," and no space (core/src/whipwhep.ts).
  it('D3 (INTEROP): Links are parser-friendly: OBS-style parsing of the 201 finds every ICE server with its credentials', async () => {
    const response = await rawPublish();
    expect(obsIceServers(response)).toEqual([
      { url: STUN_URL, username: '', credential: '' },
      { url: TURN_URL, username: 'u', credential: 'p' },
    ]);
  });
});

describe('E. authentication', () => {
  it('E1 (MUST): the stream key as Bearer token is accepted (201; the auth scheme is case-insensitive)', async () => {
    const result = await whipPost(fixture('f1-rfc'));
    expect(result.response.status).toBe(201);
    expect(t.platform.ingest.isLive(result.streamId)).toBe(true);
    const stream = await t.createStream('conformance');
    const response = await postSdp(stream.whipUrl, fixture('f1-rfc'), {
      headers: { Authorization: `bearer ${stream.streamKey}` },
    });
    expect(response.status).toBe(201);
  });

  it('E2 (MUST): a missing token gets 401 with a Bearer WWW-Authenticate challenge and creates no session', async () => {
    const before = t.platform.ingest.liveStreamCount;
    const result = await whipPost(fixture('f1-rfc'), { token: null });
    expect(result.response.status).toBe(401);
    expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/i);
    await expectRejectedPost(result, [401], before);
  });

  it('E3 (MUST): a bad token gets 401 error="invalid_token" (also a Basic credential), no Location, no session', async () => {
    for (const header of ['Bearer wrong', 'Basic dXNlcjpwYXNz']) {
      const before = t.platform.ingest.liveStreamCount;
      const result = await whipPost(fixture('f1-rfc'), {
        token: null,
        headers: { Authorization: header },
      });
      expect(result.response.status, header).toBe(401);
      expect(result.response.headers.get('www-authenticate')).toMatch(/^Bearer\b/i);
      if (header.startsWith('Bearer')) {
        expect(result.response.headers.get('www-authenticate')).toContain('error="invalid_token"');
      }
      await expectRejectedPost(result, [401], before);
    }
  });

  it('E4 (SHOULD): GET/PATCH/DELETE {S} without, with a wrong, or with another stream key get 401; the session survives', async () => {
    const session = await publish(t, 'f1-rfc');
    const other = await t.createStream('other');
    const badAuth: Record<string, string>[] = [{}, bearer('wrong'), bearer(other.streamKey)];
    for (const headers of badAuth) {
      const label = headers.Authorization ?? 'no Authorization';
      const get = await fetch(session.location, { headers });
      expect(get.status, `GET ${label}`).toBe(401);
      const patch = await patchFragment(session.location, tf1(fixture('f1-rfc')), {
        ifMatch: session.etag,
        headers,
      });
      expect(patch.status, `PATCH ${label}`).toBe(401);
      const del = await fetch(session.location, { method: 'DELETE', headers });
      expect(del.status, `DELETE ${label}`).toBe(401);
      expect(del.headers.get('www-authenticate')).toMatch(/^Bearer\b/i);
    }
    expect(t.platform.ingest.isLive(session.stream.id)).toBe(true);
    expect((await trickle(session, session.etag)).status).toBe(204);
    expect((await deleteSession(session)).status).toBe(200);
    expect(t.platform.ingest.isLive(session.stream.id)).toBe(false);
  });
});

describe('F. session resource', () => {
  it('F1 (MUST): GET {EP} answers 2xx with no content', async () => {
    const response = await fetch(`${t.baseUrl}/whip`);
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(await response.text()).toBe('');
  });

  it('F2 (MUST): GET {S} answers 2xx with no content', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await fetch(session.location, { headers: session.auth });
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(await response.text()).toBe('');
  });

  it('F3 (MUST 2xx / SHOULD 200): DELETE {S} answers 200 and tears the session down (gone, ICE no longer answers)', async () => {
    const session = await publish(t, 'f1-rfc');
    const tagged = taggedSection(session.sdp);
    const { ufrag, pwd } = transportOf(session.sdp, tagged);
    const udp = tagged.candidates!.find((c) => c.transport === 'udp')!;
    const check = () =>
      stunBinding({
        address: udp.ip,
        port: udp.port,
        serverUfrag: ufrag!,
        serverPwd: pwd!,
        clientUfrag: F1_ICE.ufrag,
        timeoutMs: 1000,
      });
    expect(await check()).toEqual({ kind: 'success' });
    const before = t.platform.ingest.liveStreamCount;
    const response = await deleteSession(session);
    expect(response.status).toBe(200);
    expect(t.platform.ingest.isLive(session.stream.id)).toBe(false);
    expect(t.platform.ingest.liveStreamCount).toBe(before - 1);
    expect(await getSession(session)).toBe(404);
    // No success any more (no answer at all; an error would come from another socket reusing the port).
    expect((await check()).kind).not.toBe('success');
  });

  it('F4 (MUST): DELETE ignores entity-tags (If-Match: "definitely-not-the-etag" -> 200)', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await deleteSession(session, { 'If-Match': '"definitely-not-the-etag"' });
    expect(response.status).toBe(200);
    expect(t.platform.ingest.isLive(session.stream.id)).toBe(false);
  });

  it('F5 (SHOULD): a deleted or unknown session gets 404 on DELETE and PATCH', async () => {
    const session = await publish(t, 'f1-rfc');
    expect((await deleteSession(session)).status).toBe(200);
    expect((await deleteSession(session)).status).toBe(404);
    expect((await trickle(session, session.etag)).status).toBe(404);
    const unknown = `${t.baseUrl}/whip/3f0c2a9e-8d4b-4c55-9a1e-6b7d2f4e1c00`;
    expect((await fetch(unknown, { method: 'DELETE', headers: session.auth })).status).toBe(404);
    const patch = await patchFragment(unknown, tf1(fixture('f1-rfc')), {
      ifMatch: '*',
      headers: session.auth,
    });
    expect(patch.status).toBe(404);
  });

  it('F6 (SHOULD): session URLs are unguessable (20 sessions: distinct UUIDv4, not sequential)', async () => {
    const stream = await t.createStream('conformance');
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      // Publisher takeover: each POST replaces the previous session of the stream.
      const session = await publish(t, 'f1-rfc', stream);
      ids.push(lastSegment(session.location));
    }
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    const sorted = [...ids].sort();
    expect(sorted).not.toEqual(ids);
  });
});

describe('G. PATCH, common rules', () => {
  it('G1 (MUST): a PATCH with the wrong Content-Type is rejected (415) and changes nothing', async () => {
    const session = await publish(t, 'f1-rfc');
    for (const contentType of [SDP_TYPE, 'text/plain']) {
      const response = await patchFragment(session.location, tf1(fixture('f1-rfc')), {
        ifMatch: session.etag,
        contentType,
        headers: session.auth,
      });
      expect(response.status, contentType).toBe(415);
      expect(response.headers.get('etag')).toBeNull();
    }
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('G2 (SHOULD): the 415 carries Accept-Patch: application/trickle-ice-sdpfrag', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await patchFragment(session.location, tf1(fixture('f1-rfc')), {
      ifMatch: session.etag,
      contentType: SDP_TYPE,
      headers: session.auth,
    });
    expect(response.status).toBe(415);
    expect(tokens(response.headers.get('accept-patch'))).toContain(SDPFRAG_TYPE);
  });

  it('G3 (MUST): a malformed sdpfrag is rejected (400)', async () => {
    const session = await publish(t, 'f1-rfc');
    for (const body of ['garbage\r\n', 'a=candidate:not a candidate\r\n', '']) {
      const response = await trickle(session, session.etag, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.headers.get('etag')).toBeNull();
    }
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('G6 (MUST): the 201 carries a strong ETag (quoted, no W/)', async () => {
    const first = await publish(t, 'f1-rfc');
    const second = await publish(t, 'f1-rfc');
    for (const session of [first, second]) expect(session.etag).toMatch(STRONG_ETAG);
    expect(first.etag).not.toBe(second.etag);
  });

  it('G7 (SHOULD): OPTIONS {S} advertises Accept-Patch: application/trickle-ice-sdpfrag', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await fetch(session.location, { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    expect(tokens(response.headers.get('accept-patch'))).toContain(SDPFRAG_TYPE);
    expect(tokens(response.headers.get('allow'))).toContain('patch');
  });
});

describe('H. trickle ICE', () => {
  it('H1 (SHOULD): trickle is supported (204, not 405/422/501)', async () => {
    const session = await publish(t, 'f1-rfc');
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('H2 (MUST): a trickle PATCH (TF1, If-Match: {ETAG}) is answered 204', async () => {
    const session = await publish(t, 'f2-browser');
    const response = await patchFragment(session.location, tf1(fixture('f2-browser')), {
      ifMatch: session.etag,
      headers: session.auth,
    });
    expect(response.status).toBe(204);
    // The ETag stays valid for the next trickle.
    expect((await trickle(session, session.etag, tf1(fixture('f2-browser')))).status).toBe(204);
  });

  it('H3 (MUST): the 204 has no body and Content-Length absent or 0', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await trickle(session, session.etag);
    expect(response.status).toBe(204);
    expect(['0', null]).toContain(response.headers.get('content-length'));
    expect(await response.text()).toBe('');
  });

  it('H4 (MUST NOT): the 204 has no ETag', async () => {
    const session = await publish(t, 'f1-rfc');
    const response = await trickle(session, session.etag);
    expect(response.status).toBe(204);
    expect(response.headers.get('etag')).toBeNull();
  });

  it('H5 (MUST): unusable candidates (mDNS, FQDN, tcptype active, unknown transport) are ignored; still 204', async () => {
    const session = await publish(t, 'f1-rfc');
    const body = trickleFragment({
      ...F1_ICE,
      candidates: [
        '2 1 udp 2122260223 4b1e2f6a-7c3d-4e8f-9a0b-1c2d3e4f5a6b.local 61765 typ host',
        '3 1 udp 2122260223 unresolvable.invalid 61766 typ host',
        '4 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active',
        '5 1 dccp 2122260223 192.0.2.10 61767 typ host',
        '1 1 udp 2122260223 192.0.2.10 61764 typ host',
      ],
    });
    expect((await trickle(session, session.etag, body)).status).toBe(204);
  });

  it('H6 (MUST): a stale If-Match gets 412 (also a weak W/ form of the current tag)', async () => {
    const session = await publish(t, 'f1-rfc');
    expect((await trickle(session, '"stale-etag"')).status).toBe(412);
    // If-Match uses the strong comparison (RFC 9110 §13.1.1): a weak tag never matches.
    expect((await trickle(session, `W/${session.etag}`)).status).toBe(412);
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  // Regression: If-Match may carry a list of entity-tags (RFC 9110 §13.1.1); the condition
  // holds if any listed tag matches (PeerTransport.applyPatch).
  it('H6 (HTTP MUST, RFC 9110 §13.1.1, extra): an If-Match list that contains the current ETag is honoured (204)', async () => {
    const session = await publish(t, 'f1-rfc');
    expect((await trickle(session, `"stale-etag", ${session.etag}`)).status).toBe(204);
  });

  it('H7 (MUST): a PATCH without If-Match gets 428 (trickle and restart), state unchanged', async () => {
    const session = await publish(t, 'f1-rfc');
    const noIfMatch = (body: string) =>
      patchFragment(session.location, body, { headers: session.auth });
    expect((await noIfMatch(tf1(fixture('f1-rfc')))).status).toBe(428);
    expect((await noIfMatch(tf2().body)).status).toBe(428);
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('H9 (INTEROP): deployed fragment shapes are accepted (204 each, aggregated and one-candidate-per-PATCH)', async () => {
    const session = await publish(t, 'f1-rfc');
    const variants: [string, string][] = [
      [
        'medooze (session-level ufrag/pwd, m=... 0)',
        trickleFragment({
          ...F1_ICE,
          sessionLevelCredentials: true,
          group: null,
          mLine: 'm=audio 9 UDP/TLS/RTP/SAVPF 0',
        }),
      ],
      [
        'simple-whip-client (m=audio 9 RTP/AVP 0)',
        trickleFragment({ ...F1_ICE, group: null, mLine: 'm=audio 9 RTP/AVP 0' }),
      ],
      ['no a=mid', trickleFragment({ ...F1_ICE, mid: null })],
      ['LF line endings', trickleFragment({ ...F1_ICE, eol: '\n' })],
      [
        'end-of-candidates only',
        trickleFragment({ group: null, mLine: null, mid: null, candidates: [] }),
      ],
      [
        'aggregated (several candidates)',
        trickleFragment({
          ...F1_ICE,
          candidates: [
            '1 1 udp 2122260223 192.0.2.10 61764 typ host',
            '2 1 udp 1686052607 198.51.100.7 61764 typ srflx raddr 192.0.2.10 rport 61764',
            '3 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active',
          ],
          endOfCandidates: true,
        }),
      ],
    ];
    for (const [label, body] of variants) {
      expect((await trickle(session, session.etag, body)).status, label).toBe(204);
    }
    for (const candidate of [
      '1 1 udp 2122260223 192.0.2.10 61764 typ host',
      '2 1 udp 2122260223 192.0.2.11 61765 typ host',
    ]) {
      const body = trickleFragment({ ...F1_ICE, candidates: [candidate], endOfCandidates: false });
      expect((await trickle(session, session.etag, body)).status, candidate).toBe(204);
    }
  });
});

describe('I. ICE restart', () => {
  async function restart(session: WhipSessionHandle, ifMatch: string) {
    const fragment = tf2();
    const response = await patchFragment(session.location, fragment.body, {
      ifMatch,
      headers: session.auth,
    });
    return { response, fragment, body: await response.text() };
  }

  it('I1 (SHOULD): ICE restart is supported (200)', async () => {
    const session = await publish(t, 'f1-rfc');
    expect((await restart(session, '*')).response.status).toBe(200);
  });

  it('I2 (MUST): a restart PATCH (If-Match: *, TF2) gets 200 sdpfrag with new ufrag/pwd, candidates and a new ETag', async () => {
    const session = await publish(t, 'f1-rfc');
    const old = transportOf(session.sdp, taggedSection(session.sdp));
    const { response, body } = await restart(session, '*');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')?.split(';')[0]!.trim()).toBe(SDPFRAG_TYPE);
    const attrs = fragmentAttributes(body);
    const ufrag = attrs.find((a) => a.name === 'ice-ufrag')?.value;
    const pwd = attrs.find((a) => a.name === 'ice-pwd')?.value;
    expect(ufrag).toBeDefined();
    expect(pwd).toBeDefined();
    expect(ufrag!.length).toBeGreaterThanOrEqual(4);
    expect(pwd!.length).toBeGreaterThanOrEqual(22);
    expect(ufrag).not.toBe(old.ufrag);
    expect(pwd).not.toBe(old.pwd);
    const candidates = attrs.filter((a) => a.name === 'candidate');
    expect(candidates.length).toBeGreaterThan(0);
    expect(candidates.some((c) => / udp .* typ host/i.test(c.value))).toBe(true);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(STRONG_ETAG);
    expect(etag).not.toBe(session.etag);
  });

  it('I3 (MUST): the restart body repeats the answer ice-lite / ice-options / ice-pacing', async () => {
    const session = await publish(t, 'f1-rfc');
    const answer = sessionAttrs(session.sdp);
    const tagged = taggedSection(session.sdp);
    const { response, body } = await restart(session, '*');
    expect(response.status).toBe(200);
    const attrs = fragmentAttributes(body);
    expect(attrs.some((a) => a.name === 'ice-lite')).toBe(answer.icelite === 'ice-lite');
    const answerOptions = answer.iceOptions ?? tagged.iceOptions;
    expect(attrs.find((a) => a.name === 'ice-options')?.value).toBe(answerOptions);
    const answerPacing = /^a=ice-pacing:(.*)$/m.exec(session.answer)?.[1]?.trim();
    expect(attrs.find((a) => a.name === 'ice-pacing')?.value).toBe(answerPacing);
  });

  it('I4 (MUST): after a restart the old ETag gets 412 and the new one 204', async () => {
    const session = await publish(t, 'f1-rfc');
    const { response, fragment } = await restart(session, '*');
    expect(response.status).toBe(200);
    const newEtag = response.headers.get('etag')!;
    // Trickle of the new ICE generation carries the new client credentials.
    const body = trickleFragment({ ufrag: fragment.ufrag, pwd: fragment.pwd });
    expect((await trickle(session, session.etag, body)).status).toBe(412);
    expect((await trickle(session, newEtag, body)).status).toBe(204);
  });

  it('I5 (MUST): new credentials with the current ETag (not *) are a restart: 200, never 204', async () => {
    const session = await publish(t, 'f1-rfc');
    const { response, body } = await restart(session, session.etag);
    expect(response.status).toBe(200);
    expect(fragmentAttributes(body).some((a) => a.name === 'ice-ufrag')).toBe(true);
    expect(response.headers.get('etag')).not.toBe(session.etag);
  });

  it('I6 (MUST): a failed restart keeps the session (trickle with the unchanged ETag 204, DELETE 200)', async () => {
    const session = await publish(t, 'f1-rfc');
    const failures = [
      trickleFragment({ ufrag: 'BadP', pwd: 'abc', iceOptions: 'trickle ice2' }),
      trickleFragment({ ufrag: 'NoPw', iceOptions: 'trickle ice2' }),
    ];
    for (const body of failures) {
      const response = await trickle(session, '*', body);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(response.headers.get('etag')).toBeNull();
    }
    expect((await trickle(session, session.etag)).status).toBe(204);
    expect((await deleteSession(session)).status).toBe(200);
  });

  it('I8 (INTEROP): If-Match "*" (quoted) and * (RFC 9110) are both the restart wildcard', async () => {
    for (const ifMatch of ['"*"', '*']) {
      const session = await publish(t, 'f1-rfc');
      const { response } = await restart(session, ifMatch);
      expect(response.status, ifMatch).toBe(200);
      expect(response.headers.get('etag')).not.toBe(session.etag);
    }
  });
});

describe('J/K. redirects and extensions', () => {
  it('J1 (MUST NOT): POST is never answered 301/302 ({EP} and {EP}/)', async () => {
    const stream = await t.createStream('conformance');
    const direct = await postSdp(stream.whipUrl, fixture('f1-rfc'), {
      headers: bearer(stream.streamKey),
    });
    expect(direct.status).toBe(201);
    const slash = await postSdp(`${stream.whipUrl}/`, fixture('f1-rfc'), {
      headers: bearer(stream.streamKey),
    });
    expect([301, 302]).not.toContain(slash.status);
  });

  it('K1 (MUST): the 201 advertises extensions only as Link rel=<URN> (none supported: only ice-server Links)', async () => {
    const stream = await t.createStream('conformance');
    const response = await rawRequest(stream.whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': SDP_TYPE, ...bearer(stream.streamKey) },
      body: fixture('f1-rfc'),
    });
    expect(response.status).toBe(201);
    const rels = linksOf(response).map((l) => l.params.rel);
    expect(rels.length).toBeGreaterThan(0);
    for (const rel of rels) expect(rel).toBe('ice-server');
  });

  it('K2 (MUST): every non-ice-server Link rel on the 201 starts with urn:ietf:params:whip:ext:', async () => {
    for (const name of ['f1-rfc', 'f7-obs'] as FixtureName[]) {
      const stream = await t.createStream('conformance');
      const response = await rawRequest(stream.whipUrl, {
        method: 'POST',
        headers: { 'Content-Type': SDP_TYPE, ...bearer(stream.streamKey) },
        body: fixture(name),
      });
      expect(response.status).toBe(201);
      const links = linksOf(response);
      expect(links.length).toBeGreaterThan(0);
      for (const link of links.filter((l) => l.params.rel !== 'ice-server')) {
        expect(link.params.rel).toMatch(/^urn:ietf:params:whip:ext:/);
      }
    }
  });
});
