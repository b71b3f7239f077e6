/**
 * WHEP (draft-ietf-wish-whep, editor's copy) black-box conformance at the HTTP level, item by
 * item from shared/docs/whip-whep-conformance.md: the WHEP-specific items (N) and the WHIP
 * items that apply verbatim to {WEP} (§N), with "recvonly" swapped for "sendonly". A stream
 * is made live by an HTTP-only WHIP publish (its producers exist once the 201 is sent).
 *
 * Capability flags of this server for WHEP: TRICKLE, RESTART, ICE_LITE, WHEP_REQUIRES_LIVE.
 * No AUTH: WHEP needs no token; the unguessable session URL is the capability.
 *
 * Not covered here, with the reason:
 * - N6-N10: no WHEP counter-offers (406) in this server.
 * - N14, F7, F8, H8, I7, M*: agent-level (real ICE/DTLS/media); the media suites cover them.
 * - O1-O10: the SSE and layer-selection extensions are not implemented.
 * - E1-E4: WHEP requires no authentication here (no token to accept or reject).
 * - G4/G5: N/A, both trickle and ICE restart are supported.
 * - A9, B1-B3, B5, D1-D3, H1, H5, H9, I1, I3, I6, J1, K1-K2: same code paths as WHIP
 *   (core/src/whipwhep.ts, core/src/sdp/*, PeerTransport), covered in conformance-whip.test.ts;
 *   the N1 answer check below still asserts BUNDLE, rtcp-mux and the DTLS role for WHEP.
 * - J2-J4, K3, L1-L4: no redirects, no extensions, deployment/rate limiting (see WHIP file).
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
  fieldLines,
  lastSegment,
  linksOf,
  liveStream,
  patchFragment,
  postSdp,
  rawRequest,
  tokens,
  view,
  type CreatedSession,
  type Stream,
} from '../support/conformance/http.ts';
import {
  MALFORMED_BODIES,
  SDPFRAG_TYPE,
  SDP_TYPE,
  fixture,
  offerIce,
  tf1,
  tf2,
  trickleFragment,
} from '../support/conformance/sdp.ts';
import { stunBinding } from '../support/conformance/stun.ts';

const STUN_URL = 'stun:stun.example.net:3478';
const TURN_URL = 'turn:turn.example.net:3478?transport=udp';
const W1 = fixture('w1-whep-browser');
const W1_ICE = offerIce(W1);

let t: TestPlatform;
/** A stream with a live VP8 publisher (f2-browser), shared by tests that only need "live". */
let live: Stream;

beforeAll(async () => {
  t = await startPlatform({
    ICE_SERVERS: `${STUN_URL},${TURN_URL}`,
    TURN_USERNAME: 'u',
    TURN_CREDENTIAL: 'p',
    // Sessions never connect (fake fingerprints); keep publishers live for the whole file.
    SESSION_CONNECT_TIMEOUT_MS: '300000',
    MEDIASOUP_WORKERS: '2',
  });
  live = await liveStream(t, 'f2-browser');
});

afterAll(async () => {
  await t?.stop();
});

const viewers = (): number => t.platform.edge.viewerCount();

/** A rejected WHEP POST: exact status, no Location/ETag, no viewer session created. */
async function expectRejected(response: Response, status: number, before: number, label = '') {
  const body = await response.text();
  expect(response.status, `${label} ${body}`).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('etag')).toBeNull();
  expect(viewers()).toBe(before);
}

async function trickle(session: CreatedSession, ifMatch: string, body = tf1(W1)) {
  return patchFragment(session.location, body, { ifMatch });
}

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

const is2xx = (status: number): boolean => status >= 200 && status < 300;

describe('N. WHEP-specific', () => {
  it('N1 (MUST): a recvonly offer (W1) for a live stream gets 201, application/sdp, Location and a JSEP answer', async () => {
    for (const publisher of ['f2-browser', 'f7-obs'] as const) {
      const stream = await liveStream(t, publisher);
      const response = await postSdp(stream.whepUrl, W1);
      const answer = await response.text();
      expect(response.status, answer).toBe(201);
      expect(response.headers.get('content-type')?.split(';')[0]!.trim()).toBe(SDP_TYPE);
      const location = response.headers.get('location');
      expect(location).not.toBeNull();
      expect(new URL(location!, stream.whepUrl).href).toBe(location);
      const sdp = expectJsepAnswer(W1, answer);
      expect(sdp.media.every(isAccepted), publisher).toBe(true);
      expectMaxBundle(sdp);
      for (const media of sdp.media) {
        expect(media.rtcpMux).toBe('rtcp-mux');
        expect(['active', 'passive']).toContain(transportOf(sdp, media).setup);
      }
      // The viewer gets the publisher's codec at one of its own payload types.
      const video = sdp.media.find((m) => m.type === 'video')!;
      expect(video.rtp.map((r) => r.codec.toUpperCase())).toEqual([
        publisher === 'f7-obs' ? 'H264' : 'VP8',
      ]);
    }
  });

  it('N1 (MUST): W1 for an audio-only (OBS F7a) stream gets 201 with a valid answer: audio bundled, video rejected (port 0)', async () => {
    const stream = await liveStream(t, 'f7a-obs-audio-only');
    const session = await view(stream);
    const sdp = expectJsepAnswer(W1, session.answer);
    expect(sdp.media.map((m) => [m.type, isAccepted(m)])).toEqual([
      ['audio', true],
      ['video', false],
    ]);
    expectMaxBundle(sdp);
    expectDirection(sdp, 'sendonly');
  });

  it('N2 (MUST): every accepted m-section of the answer is sendonly', async () => {
    const session = await view(live);
    expectDirection(session.sdp, 'sendonly');
  });

  it('N3 (MUST): single MediaStream: every m-section has a=msid with the same stream id, at most one track per kind', async () => {
    const session = await view(live);
    const msids = session.sdp.media.map((m) => m.msid ?? []);
    for (const list of msids) expect(list.length).toBe(1);
    const streamIds = new Set(msids.map((list) => list[0].id));
    expect(streamIds.size).toBe(1);
    expect([...streamIds][0]).not.toBe('-');
    const kinds = session.sdp.media.filter(isAccepted).map((m) => m.type);
    expect(new Set(kinds).size).toBe(kinds.length);
    const tracks = msids.map((list) => list[0].appdata);
    expect(new Set(tracks).size).toBe(tracks.length);
  });

  it('N4 (MUST): a wrong Content-Type or a malformed body gets 4xx (415 / 400)', async () => {
    const before = viewers();
    await expectRejected(
      await postSdp(live.whepUrl, W1, { contentType: 'text/plain' }),
      415,
      before,
    );
    await expectRejected(await postSdp(live.whepUrl, 'hello'), 400, before);
  });

  it('N5 (MUST): a stream that is not live gets 409 with Retry-After (seconds), no session', async () => {
    const stream = await t.createStream('not live');
    const before = viewers();
    const response = await postSdp(stream.whepUrl, W1);
    expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
    await expectRejected(response, 409, before);
  });

  it('N5 (related): an unknown stream gets 404, no session', async () => {
    const before = viewers();
    const response = await postSdp(`${t.baseUrl}/whep/doesNotExist0000`, W1);
    expect(response.headers.get('retry-after')).toBeNull();
    await expectRejected(response, 404, before);
  });

  it('N11 (SHOULD): HEAD {WEP} answers 200 with Content-Type application/sdp and no body', async () => {
    const response = await fetch(live.whepUrl, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')?.split(';')[0]!.trim()).toBe(SDP_TYPE);
    expect(await response.text()).toBe('');
  });

  it('N12 (MUST, spec tension -> WARN): HEAD carries the same representation headers as GET; GET is 2xx with no content', async () => {
    const head = await fetch(live.whepUrl, { method: 'HEAD' });
    const get = await fetch(live.whepUrl);
    expect(is2xx(get.status)).toBe(true);
    expect(head.status).toBe(get.status);
    expect(await get.text()).toBe('');
    for (const name of ['content-type', 'etag', 'link', 'accept-post', 'allow']) {
      expect(head.headers.get(name), name).toBe(get.headers.get(name));
    }
  });

  it('N13 (INTEROP): a sendonly offer (W2) is rejected with 4xx (422), no session', async () => {
    const before = viewers();
    await expectRejected(await postSdp(live.whepUrl, fixture('w2-whep-sendonly')), 422, before);
  });
});

describe('A. session setup (POST {WEP})', () => {
  it('A6 (MUST): a wrong or missing Content-Type is rejected (415) with no session created', async () => {
    for (const contentType of ['text/plain', 'application/json', null]) {
      const before = viewers();
      const response = await postSdp(live.whepUrl, W1, { contentType });
      expect(response.headers.get('accept-post')).toBe(SDP_TYPE);
      await expectRejected(response, 415, before, String(contentType));
    }
  });

  it('A7 (MUST): malformed SDP is rejected (400) with no Location and no session', async () => {
    for (const { label, body } of MALFORMED_BODIES) {
      const before = viewers();
      await expectRejected(await postSdp(live.whepUrl, body), 400, before, label);
    }
  });

  it('A8 (MUST): the answer carries the full server candidate list in the tagged m-section, reachable by STUN', async () => {
    const session = await view(live);
    const candidates = expectCandidates(session.sdp);
    for (const media of session.sdp.media.filter(isAccepted)) {
      expect((media.candidates ?? []).length).toBe(candidates.length);
    }
    await expectCandidatesAnswerStun(session.sdp, W1_ICE.ufrag);
  });

  it('A12 (INTEROP): Content-Type parameters are tolerated (application/sdp; charset=utf-8 -> 201)', async () => {
    const response = await postSdp(live.whepUrl, W1, {
      contentType: 'application/sdp; charset=utf-8',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).not.toBeNull();
  });
});

describe('C. OPTIONS and CORS', () => {
  it('C1 (MUST): OPTIONS {WEP} answers 2xx', async () => {
    const response = await fetch(live.whepUrl, { method: 'OPTIONS' });
    expect(is2xx(response.status)).toBe(true);
  });

  it('C2 (SHOULD): OPTIONS {WEP} has Accept-Post: application/sdp', async () => {
    const response = await fetch(live.whepUrl, { method: 'OPTIONS' });
    expect(tokens(response.headers.get('accept-post'))).toContain(SDP_TYPE);
  });

  it('C3 (MUST): the CORS preflight for POST succeeds and lists authorization and content-type explicitly', async () => {
    const response = await preflight(live.whepUrl, 'POST', 'authorization, content-type');
    expect(is2xx(response.status)).toBe(true);
    expectAllowOrigin(response);
    expect(tokens(response.headers.get('access-control-allow-methods'))).toContain('post');
    const allowed = tokens(response.headers.get('access-control-allow-headers'));
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('content-type');
  });

  it('C4 (MUST): preflights are not auth-gated (no Authorization, endpoint and session URL)', async () => {
    const session = await view(live);
    for (const [url, method] of [
      [live.whepUrl, 'POST'],
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
    const response = await postSdp(live.whepUrl, W1, { headers: { Origin: ORIGIN } });
    expect(response.status).toBe(201);
    expectAllowOrigin(response);
    const exposed = tokens(response.headers.get('access-control-expose-headers'));
    for (const name of ['location', 'etag', 'link']) expect(exposed).toContain(name);
  });

  it('C6 (SHOULD): the preflight on {S} allows PATCH and DELETE with if-match, content-type, authorization', async () => {
    const session = await view(live);
    for (const method of ['PATCH', 'DELETE']) {
      const response = await preflight(
        session.location,
        method,
        'authorization, content-type, if-match',
      );
      expect(is2xx(response.status)).toBe(true);
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
    const response = await rawRequest(live.whepUrl, {
      method: 'OPTIONS',
      headers: {
        Origin: ORIGIN,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    expect(response.status).toBe(200);
    expect(fieldLines(response, 'link')).toEqual([]);
  });

  it('C8 (MAY): a plain OPTIONS {WEP} returns the configured ice-server Links', async () => {
    const response = await rawRequest(live.whepUrl, { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    const links = linksOf(response).filter((l) => l.params.rel === 'ice-server');
    expect(links.map((l) => l.uri)).toEqual([STUN_URL, TURN_URL]);
  });
});

describe('F. session resource', () => {
  it('F1 (MUST): GET {WEP} answers 2xx with no content', async () => {
    const response = await fetch(live.whepUrl);
    expect(is2xx(response.status)).toBe(true);
    expect(await response.text()).toBe('');
  });

  it('F2 (MUST): GET {S} answers 2xx with no content', async () => {
    const session = await view(live);
    const response = await fetch(session.location);
    expect(is2xx(response.status)).toBe(true);
    expect(await response.text()).toBe('');
  });

  it('F3 (MUST 2xx / SHOULD 200): DELETE {S} answers 200 and tears the session down (gone, ICE no longer answers)', async () => {
    const session = await view(live);
    const tagged = taggedSection(session.sdp);
    const { ufrag, pwd } = transportOf(session.sdp, tagged);
    const udp = tagged.candidates!.find((c) => c.transport === 'udp')!;
    const check = () =>
      stunBinding({
        address: udp.ip,
        port: udp.port,
        serverUfrag: ufrag!,
        serverPwd: pwd!,
        clientUfrag: W1_ICE.ufrag,
        timeoutMs: 1000,
      });
    expect(await check()).toEqual({ kind: 'success' });
    const before = viewers();
    const response = await fetch(session.location, { method: 'DELETE' });
    expect(response.status).toBe(200);
    expect(viewers()).toBe(before - 1);
    expect((await fetch(session.location)).status).toBe(404);
    // No success any more (no answer at all; an error would come from another socket reusing the port).
    expect((await check()).kind).not.toBe('success');
  });

  it('F4 (MUST): DELETE ignores entity-tags (If-Match: "definitely-not-the-etag" -> 200)', async () => {
    const session = await view(live);
    const before = viewers();
    const response = await fetch(session.location, {
      method: 'DELETE',
      headers: { 'If-Match': '"definitely-not-the-etag"' },
    });
    expect(response.status).toBe(200);
    expect(viewers()).toBe(before - 1);
  });

  it('F5 (SHOULD): a deleted or unknown session gets 404 on DELETE and PATCH (also under another stream)', async () => {
    const session = await view(live);
    expect((await fetch(session.location, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(session.location, { method: 'DELETE' })).status).toBe(404);
    expect((await trickle(session, session.etag)).status).toBe(404);
    const unknown = `${live.whepUrl}/3f0c2a9e-8d4b-4c55-9a1e-6b7d2f4e1c00`;
    expect((await fetch(unknown, { method: 'DELETE' })).status).toBe(404);
    expect((await patchFragment(unknown, tf1(W1), { ifMatch: '*' })).status).toBe(404);
    // A live session addressed under a different stream id is not found either.
    const other = await view(live);
    const elsewhere = await liveStream(t, 'f2-browser');
    const wrongStream = `${elsewhere.whepUrl}/${lastSegment(other.location)}`;
    expect((await fetch(wrongStream, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(other.location)).status).toBe(200);
  });

  it('F6 (SHOULD): session URLs are unguessable (20 sessions: distinct UUIDv4, not sequential)', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i += 1) ids.push(lastSegment((await view(live)).location));
    expect(new Set(ids).size).toBe(20);
    for (const id of ids) expect(id).toMatch(UUID_V4);
    expect([...ids].sort()).not.toEqual(ids);
  });
});

describe('G. PATCH, common rules', () => {
  it('G1 (MUST): a PATCH with the wrong Content-Type is rejected (415) and changes nothing', async () => {
    const session = await view(live);
    for (const contentType of [SDP_TYPE, 'text/plain']) {
      const response = await patchFragment(session.location, tf1(W1), {
        ifMatch: session.etag,
        contentType,
      });
      expect(response.status, contentType).toBe(415);
      expect(response.headers.get('etag')).toBeNull();
    }
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('G2 (SHOULD): the 415 carries Accept-Patch: application/trickle-ice-sdpfrag', async () => {
    const session = await view(live);
    const response = await patchFragment(session.location, tf1(W1), {
      ifMatch: session.etag,
      contentType: SDP_TYPE,
    });
    expect(response.status).toBe(415);
    expect(tokens(response.headers.get('accept-patch'))).toContain(SDPFRAG_TYPE);
  });

  it('G3 (MUST): a malformed sdpfrag is rejected (400)', async () => {
    const session = await view(live);
    for (const body of ['garbage\r\n', 'a=candidate:not a candidate\r\n', '']) {
      const response = await trickle(session, session.etag, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('G6 (MUST): the 201 carries a strong ETag (quoted, no W/)', async () => {
    const first = await view(live);
    const second = await view(live);
    for (const session of [first, second]) expect(session.etag).toMatch(STRONG_ETAG);
    expect(first.etag).not.toBe(second.etag);
  });

  it('G7 (SHOULD): OPTIONS {S} advertises Accept-Patch: application/trickle-ice-sdpfrag', async () => {
    const session = await view(live);
    const response = await fetch(session.location, { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    expect(tokens(response.headers.get('accept-patch'))).toContain(SDPFRAG_TYPE);
    expect(tokens(response.headers.get('allow'))).toContain('patch');
  });
});

describe('H. trickle ICE', () => {
  it('H2 (MUST): a trickle PATCH (TF1, If-Match: {ETAG}) is answered 204', async () => {
    const session = await view(live);
    expect((await trickle(session, session.etag)).status).toBe(204);
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('H3 (MUST): the 204 has no body and Content-Length absent or 0', async () => {
    const session = await view(live);
    const response = await trickle(session, session.etag);
    expect(response.status).toBe(204);
    expect(['0', null]).toContain(response.headers.get('content-length'));
    expect(await response.text()).toBe('');
  });

  it('H4 (MUST NOT): the 204 has no ETag', async () => {
    const session = await view(live);
    const response = await trickle(session, session.etag);
    expect(response.status).toBe(204);
    expect(response.headers.get('etag')).toBeNull();
  });

  it('H6 (MUST): a stale If-Match gets 412', async () => {
    const session = await view(live);
    expect((await trickle(session, '"stale-etag"')).status).toBe(412);
    expect((await trickle(session, `W/${session.etag}`)).status).toBe(412);
    expect((await trickle(session, session.etag)).status).toBe(204);
  });

  it('H7 (MUST): a PATCH without If-Match gets 428 (trickle and restart), state unchanged', async () => {
    const session = await view(live);
    expect((await patchFragment(session.location, tf1(W1))).status).toBe(428);
    expect((await patchFragment(session.location, tf2().body)).status).toBe(428);
    expect((await trickle(session, session.etag)).status).toBe(204);
  });
});

describe('I. ICE restart', () => {
  async function restart(session: CreatedSession, ifMatch: string) {
    const fragment = tf2();
    const response = await patchFragment(session.location, fragment.body, { ifMatch });
    return { response, fragment, body: await response.text() };
  }

  it('I2 (MUST): a restart PATCH (If-Match: *, TF2) gets 200 sdpfrag with new ufrag/pwd, candidates and a new ETag', async () => {
    const session = await view(live);
    const old = transportOf(session.sdp, taggedSection(session.sdp));
    const { response, body } = await restart(session, '*');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')?.split(';')[0]!.trim()).toBe(SDPFRAG_TYPE);
    const attrs = fragmentAttributes(body);
    const ufrag = attrs.find((a) => a.name === 'ice-ufrag')?.value;
    const pwd = attrs.find((a) => a.name === 'ice-pwd')?.value;
    expect(ufrag).toBeDefined();
    expect(pwd).toBeDefined();
    expect(ufrag).not.toBe(old.ufrag);
    expect(pwd).not.toBe(old.pwd);
    expect(attrs.filter((a) => a.name === 'candidate').length).toBeGreaterThan(0);
    const etag = response.headers.get('etag');
    expect(etag).toMatch(STRONG_ETAG);
    expect(etag).not.toBe(session.etag);
  });

  it('I4 (MUST): after a restart the old ETag gets 412 and the new one 204', async () => {
    const session = await view(live);
    const { response, fragment } = await restart(session, '*');
    expect(response.status).toBe(200);
    const newEtag = response.headers.get('etag')!;
    const body = trickleFragment({ ufrag: fragment.ufrag, pwd: fragment.pwd });
    expect((await trickle(session, session.etag, body)).status).toBe(412);
    expect((await trickle(session, newEtag, body)).status).toBe(204);
  });

  it('I5 (MUST): new credentials with the current ETag (not *) are a restart: 200, never 204', async () => {
    const session = await view(live);
    const { response, body } = await restart(session, session.etag);
    expect(response.status).toBe(200);
    expect(fragmentAttributes(body).some((a) => a.name === 'ice-ufrag')).toBe(true);
    expect(response.headers.get('etag')).not.toBe(session.etag);
  });

  it('I8 (INTEROP): If-Match "*" (quoted) and * (RFC 9110) are both the restart wildcard', async () => {
    for (const ifMatch of ['"*"', '*']) {
      const session = await view(live);
      const { response } = await restart(session, ifMatch);
      expect(response.status, ifMatch).toBe(200);
      expect(response.headers.get('etag')).not.toBe(session.etag);
    }
  });
});
