import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthorizedError } from '../../src/errors.ts';
import { ClusterAuth } from '../../src/tickets.ts';

const SECRET = 'a-cluster-secret-of-some-length';
const auth = new ClusterAuth({ secret: SECRET, ticketTtlMs: 30_000 });

describe('ClusterAuth redirect tickets', () => {
  it('a ticket names its stream for its node and action', async () => {
    const ticket = await auth.issueTicket({ streamId: 's1', action: 'publish', node: 'ingest-1' });
    expect(await auth.verifyTicket(ticket, { node: 'ingest-1', action: 'publish' })).toBe('s1');
    expect(
      await auth.verifyTicket(ticket, { node: 'ingest-1', action: 'publish', streamId: 's1' }),
    ).toBe('s1');
  });

  it('refuses a ticket for another node, action or stream with 403', async () => {
    const ticket = await auth.issueTicket({ streamId: 's1', action: 'view', node: 'edge-1' });
    for (const expected of [
      { node: 'edge-2', action: 'view' as const },
      { node: 'edge-1', action: 'publish' as const },
      { node: 'edge-1', action: 'view' as const, streamId: 's2' },
    ]) {
      await expect(auth.verifyTicket(ticket, expected)).rejects.toBeInstanceOf(ForbiddenError);
    }
  });

  it('refuses forged, foreign-secret, malformed and expired tickets with 401', async () => {
    const ticket = await auth.issueTicket({ streamId: 's1', action: 'view', node: 'edge-1' });
    const other = new ClusterAuth({ secret: 'another-secret-of-some-length', ticketTtlMs: 30_000 });
    const foreign = await other.issueTicket({ streamId: 's1', action: 'view', node: 'edge-1' });
    const [header, payload] = ticket.split('.');
    const tampered = `${header}.${Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), sub: 's2' }),
    ).toString('base64url')}.${ticket.split('.')[2]}`;
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ act: 'view' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('wisp')
      .setSubject('s1')
      .setAudience('node:edge-1')
      .setIssuedAt(now - 120)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(SECRET));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    for (const bad of [foreign, tampered, 'not-a-jwt', none, expired]) {
      const error: unknown = await auth.verifyTicket(bad, { node: 'edge-1', action: 'view' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UnauthorizedError);
    }
    await expect(auth.verifyTicket(expired, { node: 'edge-1', action: 'view' })).rejects.toThrow(
      /expired/,
    );
  });
});

describe('ClusterAuth internal tokens', () => {
  it('accepts its own tokens and names the caller', async () => {
    const token = await auth.internalToken('edge-1');
    expect(await auth.verifyInternal(`Bearer ${token}`)).toBe('edge-1');
  });

  it('refuses a missing, foreign or ticket-shaped credential', async () => {
    const other = new ClusterAuth({ secret: 'another-secret-of-some-length', ticketTtlMs: 30_000 });
    const ticket = await auth.issueTicket({ streamId: 's1', action: 'view', node: 'edge-1' });
    for (const header of [
      undefined,
      '',
      'Basic abc',
      `Bearer ${await other.internalToken('edge-1')}`,
      `Bearer ${ticket}`,
    ]) {
      await expect(auth.verifyInternal(header)).rejects.toBeInstanceOf(UnauthorizedError);
    }
  });
});
