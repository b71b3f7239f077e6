/**
 * Stream-key API throughput: every task is one stream's whole life as an admin tool sees it,
 * `create -> get -> list -> rotate -> delete` (five requests), the same mix as
 * `loadtest/k6/api.ts`. Each stream is deleted by the task that created it, so the store stays
 * the same size however long the run is.
 */
import type { LoadResult, LoadTaskResult } from './loadDriver.ts';
import { expectStatus, request, type HttpAnswer } from './loopbackHttp.ts';
import { runLevel, type LevelLimits } from './sessionLoad.ts';

export const API_OPERATIONS = ['create', 'get', 'list', 'rotate', 'delete'] as const;
export type ApiOperation = (typeof API_OPERATIONS)[number];

export interface ApiLoadOptions {
  baseUrl: string;
  adminToken: string;
  concurrency: number;
  limits: LevelLimits;
}

interface CreatedStream {
  id: string;
  streamKey: string;
}

function parseCreated(answer: HttpAnswer): CreatedStream {
  const body = JSON.parse(answer.body) as Partial<CreatedStream>;
  if (typeof body.id !== 'string' || typeof body.streamKey !== 'string') {
    throw new TypeError(`POST /api/streams answered without id/streamKey: ${answer.body}`);
  }
  return { id: body.id, streamKey: body.streamKey };
}

export async function apiLifecycle(
  baseUrl: string,
  adminToken: string,
  index: number,
  signal: AbortSignal,
): Promise<LoadTaskResult> {
  const auth = { Authorization: `Bearer ${adminToken}` };
  const phases: Partial<Record<ApiOperation, number>> = {};
  let requests = 0;
  const call = async (
    op: ApiOperation,
    method: string,
    pathname: string,
    expected: number,
    body?: unknown,
  ): Promise<HttpAnswer> => {
    requests++;
    const answer = await request(`${baseUrl}${pathname}`, {
      method,
      headers: body === undefined ? auth : { ...auth, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    expectStatus(answer, expected, `${method} ${pathname}`);
    phases[op] = answer.ms;
    return answer;
  };

  const created = parseCreated(
    await call('create', 'POST', '/api/streams', 201, { name: `bench ${index}` }),
  );
  const streamPath = `/api/streams/${encodeURIComponent(created.id)}`;
  try {
    await call('get', 'GET', streamPath, 200);
    await call('list', 'GET', '/api/streams', 200);
    await call('rotate', 'POST', `${streamPath}/key`, 200);
  } catch (error) {
    // The stream is deleted even when a step in between failed, so nothing piles up; the
    // step's error is the one reported.
    await call('delete', 'DELETE', streamPath, 204).catch(() => undefined);
    throw error;
  }
  await call('delete', 'DELETE', streamPath, 204);
  return { ok: true, status: 204, requests, phases };
}

export async function runApiLoad(options: ApiLoadOptions): Promise<LoadResult> {
  const { baseUrl, adminToken, concurrency, limits } = options;
  return runLevel(
    ({ index, signal }) => apiLifecycle(baseUrl, adminToken, index, signal),
    concurrency,
    limits,
  );
}
