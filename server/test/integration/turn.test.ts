/**
 * TURN credentials end to end: who gets them over HTTP, and a real coturn (started here on
 * loopback with `use-auth-secret`, see ../support/coturn.ts) that accepts what the platform
 * issued, refuses expired and forged credentials, and relays a libwebrtc viewer that may use
 * relay candidates only.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnRestCredentials } from '@wisp/core';
import { WrtcPublisher, WrtcViewer } from '@wisp/loadtest';
import { startCoturn, tryAllocation, type Coturn } from '../support/coturn.ts';
import { startPlatform, type TestPlatform } from '../support/platform.ts';
import {
  ORIGIN,
  bearer,
  created,
  fieldLines,
  lastSegment,
  linksOf,
  liveStream,
  postSdp,
  publish,
  rawRequest,
  type RawResponse,
} from '../support/conformance/http.ts';
import { fixture } from '../support/conformance/sdp.ts';

const SECRET = randomBytes(24).toString('base64url');
const TTL = 3600;

let coturn: Coturn;
let t: TestPlatform;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  coturn = await startCoturn({ secret: SECRET });
  t = await startPlatform({
    ICE_SERVERS: `${coturn.stunUrl},${coturn.turnUrl}`,
    TURN_SECRET: SECRET,
    TURN_TTL: String(TTL),
    // Media on loopback only: coturn relays to loopback peers only.
    RTC_LISTEN_IP: '127.0.0.1',
    MEDIASOUP_WORKERS: '1',
    // HTTP-only publishers (fixture offers) never connect; keep their streams live.
    SESSION_CONNECT_TIMEOUT_MS: '120000',
  });
});

afterAll(async () => {
  while (closers.length) await closers.pop()!().catch(() => undefined);
  await t?.stop();
  await coturn?.stop();
});

interface TurnLink {
  url: string;
  username: string;
  credential: string;
}

/** The ice-server Links of a response, split into STUN URIs and TURN servers. */
function iceLinks(response: RawResponse | Response): { stun: string[]; turn: TurnLink[] } {
  const links =
    'fields' in response
      ? linksOf(response)
      : linksOf({ status: response.status, fields: linkFields(response), body: '' });
  const ice = links.filter((l) => l.params.rel === 'ice-server');
  return {
    stun: ice.filter((l) => /^stuns?:/.test(l.uri)).map((l) => l.uri),
    turn: ice
      .filter((l) => /^turns?:/.test(l.uri))
      .map((l) => ({
        url: l.uri,
        username: l.params.username ?? '',
        credential: l.params.credential ?? '',
      })),
  };
}

function linkFields(response: Response): [string, string][] {
  const link = response.headers.get('link');
  return link === null ? [] : [['link', link]];
}

/** The reference password, computed by openssl rather than by the code under test. */
function opensslPassword(username: string): string {
  return execFileSync('openssl', ['dgst', '-sha1', '-hmac', SECRET, '-binary'], {
    input: username,
  }).toString('base64');
}

/**
 * Checks a response's single TURN Link: issued for `id`, expiring TTL seconds after the
 * request (between `before` and `after`, unix ms), signed with the secret.
 */
function expectIssued(link: TurnLink | undefined, id: string, before: number, after: number) {
  expect(link?.url).toBe(coturn.turnUrl);
  const [expiry, owner, ...rest] = link!.username.split(':');
  expect(rest).toEqual([]);
  expect(owner).toBe(id);
  expect(Number(expiry)).toBeGreaterThanOrEqual(Math.floor(before / 1000) + TTL);
  expect(Number(expiry)).toBeLessThanOrEqual(Math.floor(after / 1000) + TTL);
  expect(link!.credential).toBe(opensslPassword(link!.username));
}

/** What coturn (verbose) logs for a successful allocation by `username`. */
function allocated(username: string): string {
  return `user <${username}>: incoming packet ALLOCATE processed, success`;
}

/** No TURN URI and no credential anywhere in the Link fields. */
function expectNoTurn(response: RawResponse): void {
  const { stun, turn } = iceLinks(response);
  expect(turn).toEqual([]);
  expect(stun).toEqual([coturn.stunUrl]);
  for (const line of fieldLines(response, 'link')) {
    expect(line).not.toMatch(/turn:|username|credential/);
  }
  expect(fieldLines(response, 'cache-control')).toEqual([]);
}

const preflightHeaders = {
  Origin: ORIGIN,
  'Access-Control-Request-Method': 'POST',
  'Access-Control-Request-Headers': 'authorization, content-type',
};

describe('who gets TURN credentials', () => {
  it('an OPTIONS /whip without a bearer, or with a wrong key, gets the STUN server only', async () => {
    const stream = await t.createStream();
    const anonymous = await rawRequest(stream.whipUrl, { method: 'OPTIONS' });
    expect(anonymous.status).toBe(200);
    expectNoTurn(anonymous);
    const wrongKey = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: bearer(`${stream.streamKey}x`),
    });
    expect(wrongKey.status).toBe(200);
    expectNoTurn(wrongKey);
  });

  it('a CORS preflight gets no ice-server Link at all, even for a public stream or with a key', async () => {
    const stream = await liveStream(t);
    const whip = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: { ...preflightHeaders, ...bearer(stream.streamKey) },
    });
    const whep = await rawRequest(stream.whepUrl, { method: 'OPTIONS', headers: preflightHeaders });
    for (const response of [whip, whep]) {
      expect(response.status).toBe(200);
      expect(fieldLines(response, 'link')).toEqual([]);
    }
  });

  it('an OPTIONS /whep of a stream that does not exist gets the STUN server only', async () => {
    const response = await rawRequest(`${t.baseUrl}/whep/no-such-stream`, { method: 'OPTIONS' });
    expect(response.status).toBe(200);
    expectNoTurn(response);
  });

  it('a refused publish (401) carries no TURN Link', async () => {
    const stream = await t.createStream();
    const response = await rawRequest(stream.whipUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', ...bearer('not-a-key') },
      body: fixture('f1-rfc'),
    });
    expect(response.status).toBe(401);
    expect(iceLinks(response).turn).toEqual([]);
  });

  it('an OPTIONS /whip with the stream key gets credentials for the stream, expiring after TURN_TTL', async () => {
    const stream = await t.createStream();
    const before = Date.now();
    const response = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: bearer(stream.streamKey),
    });
    const after = Date.now();
    const { stun, turn } = iceLinks(response);
    expect(stun).toEqual([coturn.stunUrl]);
    expect(turn).toHaveLength(1);
    expectIssued(turn[0], stream.id, before, after);
    expect(fieldLines(response, 'cache-control')).toEqual(['no-store']);
  });

  it('an authenticated publish (201) gets credentials for its session', async () => {
    const before = Date.now();
    const session = await publish(t, 'f1-rfc');
    const after = Date.now();
    const { turn } = iceLinks(session.response);
    expect(turn).toHaveLength(1);
    expectIssued(turn[0], lastSegment(session.location), before, after);
    expect(session.response.headers.get('cache-control')).toBe('no-store');
  });

  it('a viewer of a public stream gets credentials on OPTIONS (for the stream) and on the 201 (for its session)', async () => {
    const stream = await liveStream(t);
    let before = Date.now();
    const options = await rawRequest(stream.whepUrl, { method: 'OPTIONS' });
    let after = Date.now();
    expectIssued(iceLinks(options).turn[0], stream.id, before, after);
    before = Date.now();
    const session = await created(await postSdp(stream.whepUrl, fixture('w1-whep-browser')));
    after = Date.now();
    const { turn } = iceLinks(session.response);
    expect(turn).toHaveLength(1);
    expectIssued(turn[0], lastSegment(session.location), before, after);
  });

  it('a WHEP offer for a stream that is not live (409) carries no TURN Link', async () => {
    const stream = await t.createStream();
    const response = await rawRequest(stream.whepUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: fixture('w1-whep-browser'),
    });
    expect(response.status).toBe(409);
    expect(iceLinks(response).turn).toEqual([]);
  });
});

describe('coturn (use-auth-secret) and the credentials', () => {
  it('accepts the credentials of a publish and of a viewer session', async () => {
    const published = await publish(t, 'f2-browser');
    const viewed = await created(
      await postSdp(published.stream.whepUrl, fixture('w1-whep-browser')),
    );
    const links = [published.response, viewed.response].map((r) => iceLinks(r).turn[0]);
    const attempts = await Promise.all(
      links.map((link) => tryAllocation(coturn, link.username, link.credential)),
    );
    for (const attempt of attempts) expect(attempt.ok, attempt.output).toBe(true);
    for (const link of links) expect(coturn.log()).toContain(allocated(link.username));
  });

  it('refuses forged credentials: another secret, a pushed-back expiry, another id', async () => {
    const session = await publish(t, 'f1-rfc');
    const [issued] = iceLinks(session.response).turn;
    const [expiry, id] = issued.username.split(':');
    const otherSecret = turnRestCredentials('not-the-secret', id, Number(expiry));
    const forged: [string, string][] = [
      [otherSecret.username, otherSecret.credential],
      // Extending one's own credentials without the secret.
      [`${Number(expiry) + 86_400}:${id}`, issued.credential],
      [`${expiry}:someone-else`, issued.credential],
    ];
    for (const [username, credential] of forged) {
      const attempt = await tryAllocation(coturn, username, credential);
      expect(attempt.ok, `${username} was accepted`).toBe(false);
      expect(coturn.log()).not.toContain(allocated(username));
    }
    // The genuine pair still works: the refusals above were about the credentials.
    expect((await tryAllocation(coturn, issued.username, issued.credential)).ok).toBe(true);
  });

  it('refuses correctly signed credentials whose expiry has passed', async () => {
    const past = Math.floor(Date.now() / 1000) - 5;
    const expired = turnRestCredentials(SECRET, 'expired-session', past);
    expect(expired.credential).toBe(opensslPassword(expired.username));
    const attempt = await tryAllocation(coturn, expired.username, expired.credential);
    expect(attempt.ok).toBe(false);
    // coturn's words for a REST username whose time has passed.
    expect(coturn.log()).toContain(`Cannot find credentials of user <${expired.username}>`);
    expect(coturn.log()).not.toContain(allocated(expired.username));
  });

  it('honours the expiry the platform issued: accepted within TURN_TTL, refused after', async () => {
    const short = await startPlatform({
      ICE_SERVERS: coturn.turnUrl,
      TURN_SECRET: SECRET,
      TURN_TTL: '3',
      MEDIASOUP_WORKERS: '1',
    });
    closers.push(() => short.stop());
    const stream = await short.createStream();
    const response = await rawRequest(stream.whipUrl, {
      method: 'OPTIONS',
      headers: bearer(stream.streamKey),
    });
    const [link] = iceLinks(response).turn;
    const expiresAt = Number(link.username.split(':')[0]);
    expect(expiresAt - Date.now() / 1000).toBeLessThanOrEqual(3);
    expect((await tryAllocation(coturn, link.username, link.credential)).ok).toBe(true);
    // coturn accepts until the second of the expiry has passed.
    await new Promise((resolve) => setTimeout(resolve, (expiresAt + 1) * 1000 - Date.now() + 200));
    const late = await tryAllocation(coturn, link.username, link.credential);
    expect(late.ok).toBe(false);
  });
});

describe('a relay-only libwebrtc viewer', () => {
  it('plays through coturn with the credentials of the WHEP Links', async () => {
    const stream = await t.createStream();
    const publisher = await WrtcPublisher.start({
      whipUrl: stream.whipUrl,
      streamKey: stream.streamKey,
    });
    closers.push(() => publisher.close());
    await publisher.waitConnected(10_000);

    // What a player does before creating its peer connection: OPTIONS for the ICE servers.
    const options = await rawRequest(stream.whepUrl, { method: 'OPTIONS' });
    const { stun, turn } = iceLinks(options);
    const iceServers = [
      ...stun.map((url) => ({ urls: url })),
      ...turn.map((s) => ({ urls: s.url, username: s.username, credential: s.credential })),
    ];
    expect(turn).toHaveLength(1);
    const viewer = await WrtcViewer.start({
      whepUrl: stream.whepUrl,
      iceServers,
      iceTransportPolicy: 'relay',
    });
    closers.push(() => viewer.close());
    await viewer.waitForFrames(30, 20_000);

    // Only relay candidates were offered, and the pair in use is the relayed one.
    const candidates = viewer.offerSdp.split(/\r?\n/).filter((l) => l.startsWith('a=candidate:'));
    expect(candidates.length).toBeGreaterThan(0);
    for (const line of candidates) expect(line).toMatch(/ typ relay( |$)/);
    expect((await viewer.selectedCandidateTypes())?.local).toBe('relay');
    // coturn authenticated the viewer's allocation with the user the platform issued.
    expect(coturn.log()).toContain(allocated(turn[0].username));
  });
});
