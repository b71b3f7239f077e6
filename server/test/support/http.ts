/** Small WHIP/WHEP HTTP helpers for tests that need no media. */
import { sdpFixture } from './fixtures.ts';

export async function whipPost(
  baseUrl: string,
  key: string | undefined,
  body: string,
  contentType = 'application/sdp',
): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': contentType };
  if (key !== undefined) headers.Authorization = `Bearer ${key}`;
  return fetch(`${baseUrl}/whip`, { method: 'POST', headers, body });
}

/** Publishes an HTTP-only WHIP session (producers exist, no media flows). */
export async function publishFixture(
  baseUrl: string,
  key: string,
  fixture = 'f2-browser',
): Promise<{ location: string; etag: string; answer: string }> {
  const response = await whipPost(baseUrl, key, sdpFixture(fixture));
  if (response.status !== 201) {
    throw new Error(`publish failed: ${response.status} ${await response.text()}`);
  }
  return {
    location: response.headers.get('location')!,
    etag: response.headers.get('etag')!,
    answer: await response.text(),
  };
}

export async function whepPost(baseUrl: string, streamId: string, body: string): Promise<Response> {
  return fetch(`${baseUrl}/whep/${streamId}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body,
  });
}
