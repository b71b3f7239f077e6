/**
 * HTTP helpers for the WHIP/WHEP conformance suites. `fetch` for ordinary requests, and
 * `rawRequest` (node:http) where field lines matter: the Fetch `Headers` API merges repeated
 * fields into one comma-joined value, which hides how many `Link` lines were sent (D3).
 */
import http from 'node:http';
import type { TestPlatform } from '../platform.ts';
import { SDP_TYPE, SDPFRAG_TYPE, fixture, parseSdp, type FixtureName } from './sdp.ts';
import type { SessionDescription } from 'sdp-transform';

export const ORIGIN = 'https://tester.example';

export type Stream = Awaited<ReturnType<TestPlatform['createStream']>>;

export interface RawResponse {
  status: number;
  /** Every field line as received, names lower-cased, in order. */
  fields: [string, string][];
  body: string;
}

export async function rawRequest(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const fields: [string, string][] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            fields.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
          }
          resolve({ status: res.statusCode ?? 0, fields, body: Buffer.concat(chunks).toString() });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(init.body);
  });
}

/** The values of every field line with this (lower-case) name. */
export function fieldLines(response: RawResponse, name: string): string[] {
  return response.fields.filter(([n]) => n === name).map(([, v]) => v);
}

export interface LinkValue {
  uri: string;
  params: Record<string, string>;
  /** Parameter names in the order written, with `=` kept to spot `name:"x"` forms. */
  rawParams: string[];
}

/**
 * RFC 8288 §3 parser for a (possibly comma-joined) Link field value: `<uri>` followed by
 * `; name=value` or `; name="quoted"` parameters, links separated by commas outside quotes.
 */
export function parseLinks(value: string): LinkValue[] {
  const links: LinkValue[] = [];
  let i = 0;
  const skipWs = (): void => {
    while (i < value.length && /[ \t]/.test(value[i])) i += 1;
  };
  while (i < value.length) {
    skipWs();
    if (value[i] === ',') {
      i += 1;
      continue;
    }
    if (value[i] !== '<') throw new Error(`Link: expected "<" at ${i} in ${value}`);
    const end = value.indexOf('>', i);
    if (end < 0) throw new Error(`Link: unterminated URI in ${value}`);
    const link: LinkValue = { uri: value.slice(i + 1, end), params: {}, rawParams: [] };
    i = end + 1;
    for (;;) {
      skipWs();
      if (value[i] !== ';') break;
      i += 1;
      skipWs();
      const nameMatch = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/.exec(value.slice(i));
      if (!nameMatch) throw new Error(`Link: bad parameter name at ${i} in ${value}`);
      const name = nameMatch[0].toLowerCase();
      i += nameMatch[0].length;
      skipWs();
      let paramValue = '';
      if (value[i] === '=') {
        i += 1;
        skipWs();
        if (value[i] === '"') {
          i += 1;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\') i += 1;
            paramValue += value[i] ?? '';
            i += 1;
          }
          if (value[i] !== '"') throw new Error(`Link: unterminated quoted string in ${value}`);
          i += 1;
        } else {
          const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]*/.exec(value.slice(i))![0];
          paramValue = token;
          i += token.length;
        }
      }
      link.rawParams.push(name);
      link.params[name] = paramValue;
    }
    links.push(link);
    skipWs();
    if (i < value.length && value[i] !== ',') {
      throw new Error(`Link: unexpected "${value[i]}" at ${i} in ${value}`);
    }
  }
  return links;
}

/** Links from every Link field line of a response. */
export function linksOf(response: RawResponse): LinkValue[] {
  return fieldLines(response, 'link').flatMap(parseLinks);
}

/**
 * ICE servers as OBS Studio (30.2+, `WHIPOutput::ParseLinkHeader`) reads them: each Link field
 * line is split on `,` with no trimming; in each piece the `;`-separated tokens are scanned,
 * the URL taken only from a token that *starts with* `<stun:` or `<turn:`, username/credential
 * from tokens containing `username=` / `credential=` (between the first and last quote).
 */
export function obsIceServers(
  response: RawResponse,
): { url: string; username: string; credential: string }[] {
  const servers: { url: string; username: string; credential: string }[] = [];
  for (const line of fieldLines(response, 'link')) {
    for (const piece of line.split(',')) {
      let url = '';
      let username = '';
      let credential = '';
      for (const token of piece.split(';')) {
        const quoted = (): string => token.slice(token.indexOf('"') + 1, token.lastIndexOf('"'));
        if (token.startsWith('<stun:') || token.startsWith('<turn:')) {
          url = token.slice(1, token.indexOf('>'));
        } else if (token.includes('username=')) {
          username = quoted();
        } else if (token.includes('credential=')) {
          credential = quoted();
        }
      }
      // rtc::IceServer("") throws and OBS drops the entry with a warning.
      if (url) servers.push({ url, username, credential });
    }
  }
  return servers;
}

export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}

/** POST an SDP body (a Uint8Array when no Content-Type must be sent). */
export async function postSdp(
  url: string,
  body: string,
  options: { contentType?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const contentType = options.contentType === undefined ? SDP_TYPE : options.contentType;
  if (contentType !== null) headers['Content-Type'] = contentType;
  return fetch(url, {
    method: 'POST',
    headers,
    // fetch() labels a string body text/plain; bytes are sent without a Content-Type.
    body: contentType === null ? new TextEncoder().encode(body) : body,
    redirect: 'manual',
  });
}

export async function patchFragment(
  url: string,
  body: string,
  options: { ifMatch?: string | null; contentType?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const headers: Record<string, string> = {
    'Content-Type': options.contentType ?? SDPFRAG_TYPE,
    ...(options.headers ?? {}),
  };
  if (options.ifMatch !== undefined && options.ifMatch !== null) {
    headers['If-Match'] = options.ifMatch;
  }
  return fetch(url, { method: 'PATCH', headers, body });
}

export interface CreatedSession {
  response: Response;
  status: number;
  location: string;
  etag: string;
  answer: string;
  sdp: SessionDescription;
}

/** Reads a 201 into a CreatedSession; throws with the body on anything else. */
export async function created(response: Response): Promise<CreatedSession> {
  const answer = await response.text();
  if (response.status !== 201) {
    throw new Error(`expected 201, got ${response.status}: ${answer}`);
  }
  return {
    response,
    status: response.status,
    location: response.headers.get('location') ?? '',
    etag: response.headers.get('etag') ?? '',
    answer,
    sdp: parseSdp(answer),
  };
}

export interface WhipSessionHandle extends CreatedSession {
  stream: Stream;
  auth: Record<string, string>;
}

/** Creates a fresh stream and publishes `offer` on it over WHIP (HTTP only, no media). */
export async function publish(
  t: TestPlatform,
  offer: FixtureName | { sdp: string } = 'f1-rfc',
  stream?: Stream,
): Promise<WhipSessionHandle> {
  const target = stream ?? (await t.createStream('conformance'));
  const body = typeof offer === 'string' ? fixture(offer) : offer.sdp;
  const auth = bearer(target.streamKey);
  const session = await created(await postSdp(target.whipUrl, body, { headers: auth }));
  return { ...session, stream: target, auth };
}

/** A stream with a live (HTTP-only) WHIP publisher: its producers exist at once. */
export async function liveStream(
  t: TestPlatform,
  offer: FixtureName = 'f2-browser',
): Promise<Stream> {
  return (await publish(t, offer)).stream;
}

/** Creates a WHEP viewer session of a live stream with `offer` (W1 by default). */
export async function view(
  stream: Stream,
  offer: FixtureName | { sdp: string } = 'w1-whep-browser',
): Promise<CreatedSession> {
  const body = typeof offer === 'string' ? fixture(offer) : offer.sdp;
  return created(await postSdp(stream.whepUrl, body));
}

/** Comma-separated header list to lower-case tokens. */
export function tokens(value: string | null): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
}

/** RFC 9110 §8.8.3 strong entity-tag: DQUOTE *etagc DQUOTE, no W/ prefix. */
export const STRONG_ETAG = /^"[\x21\x23-\x7e\x80-\xff]*"$/;

/** UUID version 4 (122 random bits), RFC 9562 §5.4. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The last path segment of a session URL. */
export function lastSegment(url: string): string {
  return new URL(url).pathname.split('/').filter(Boolean).pop() ?? '';
}
