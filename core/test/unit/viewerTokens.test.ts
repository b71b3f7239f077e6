/**
 * Viewer tokens (viewerTokens.ts): real jose signing and verifying, tokens made by hand with
 * jose for the forgeries a client could try.
 */
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ClusterAuth, ForbiddenError, UnauthorizedError, ViewerTokens } from '../../src/index.ts';

const SECRET = 'cluster secret for the tests';
const tokens = new ViewerTokens({ secret: SECRET });

async function rejection(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as Error & { status: number; headers?: Record<string, string> };
  }
  throw new Error('expected a rejection');
}

/** A token signed with the derived key, with claims of our choosing. */
function signed(claims: Record<string, unknown>, key = derivedKey(SECRET)) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

function derivedKey(secret: string): Uint8Array {
  return createHmac('sha256', secret).update('wisp viewer tokens v1').digest();
}

const now = () => Math.floor(Date.now() / 1000);

describe('ViewerTokens', () => {
  it('accepts its own token for the stream it names, until it expires', async () => {
    const { token, expiresAt } = await tokens.issue('stream-a', 60);
    expect(expiresAt - now()).toBeGreaterThanOrEqual(59);
    expect(expiresAt - now()).toBeLessThanOrEqual(60);
    await expect(tokens.verify(token, 'stream-a')).resolves.toBeUndefined();
    // Another instance with the same secret (another node) accepts it too.
    await expect(new ViewerTokens({ secret: SECRET }).verify(token, 'stream-a')).resolves.toBe(
      undefined,
    );
  });

  it('refuses a token for another stream with 403', async () => {
    const { token } = await tokens.issue('stream-a', 60);
    const error = await rejection(tokens.verify(token, 'stream-b'));
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.message).toMatch(/another stream/);
  });

  it('refuses missing, expired, forged and malformed tokens with 401', async () => {
    const missing = await rejection(tokens.verify(undefined, 'stream-a'));
    expect(missing).toBeInstanceOf(UnauthorizedError);
    expect(missing.message).toMatch(/private/);

    const expired = await signed({ iss: 'wisp', aud: 'stream-a', scope: 'view', exp: now() - 5 });
    expect((await rejection(tokens.verify(expired, 'stream-a'))).message).toMatch(/expired/);

    const cases = [
      // Another secret.
      await new ViewerTokens({ secret: 'some other cluster secret' }).issue('stream-a', 60),
    ].map((t) => t.token);
    cases.push(
      await signed({ iss: 'wisp', aud: 'stream-a', scope: 'view' }), // no expiry
      await signed({ iss: 'other', aud: 'stream-a', scope: 'view', exp: now() + 60 }),
      await signed({ iss: 'wisp', aud: 'stream-a', scope: 'publish', exp: now() + 60 }),
      await signed({ iss: 'wisp', scope: 'view', exp: now() + 60 }), // no audience
      // Signed with the cluster secret itself rather than the derived key.
      await signed(
        { iss: 'wisp', aud: 'stream-a', scope: 'view', exp: now() + 60 },
        new TextEncoder().encode(SECRET),
      ),
      'not-a-jwt',
      'a.b.c',
      'x'.repeat(5000),
    );
    const [header, payload] = (await tokens.issue('stream-a', 60)).token.split('.');
    cases.push(`${header}.${payload}.`); // signature stripped
    const none = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    cases.push(`${none}.${payload}.`);
    for (const token of cases) {
      const error = await rejection(tokens.verify(token, 'stream-a'));
      expect(error, token.slice(0, 60)).toBeInstanceOf(UnauthorizedError);
      expect(error.headers?.['WWW-Authenticate']).toMatch(/invalid_token/);
    }
  });

  it('never accepts a redirect ticket as a viewer token', async () => {
    const auth = new ClusterAuth({ secret: SECRET, ticketTtlMs: 30_000 });
    const ticket = await auth.issueTicket({ streamId: 'stream-a', action: 'view', node: 'n1' });
    expect(await rejection(tokens.verify(ticket, 'stream-a'))).toBeInstanceOf(UnauthorizedError);
    const { token } = await tokens.issue('stream-a', 60);
    await expect(
      auth.verifyTicket(token, { node: 'n1', action: 'view', streamId: 'stream-a' }),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses a short secret and a bad lifetime', async () => {
    expect(() => new ViewerTokens({ secret: 'short' })).toThrow(TypeError);
    await expect(tokens.issue('stream-a', 0)).rejects.toThrow(TypeError);
    await expect(tokens.issue('stream-a', 1.5)).rejects.toThrow(TypeError);
  });
});
