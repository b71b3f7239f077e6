/**
 * Stream-key API throughput against a deployment: every iteration is one stream's whole life
 * as an admin tool sees it, `create -> get -> list -> rotate the key -> delete`, five requests
 * with the admin token. Each iteration deletes the stream it created, so the store keeps its
 * size however long the test runs. `loadtest/src/signalling` runs the same mix in Node.
 *
 *   k6 run -e BASE_URL=https://live.example.com -e ADMIN_TOKEN=... loadtest/k6/api.ts
 */
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import type { Options } from 'k6/options';
import {
  baseOptions,
  baseUrl,
  bodyText,
  p95Thresholds,
  rampingArrivalRate,
  requiredEnv,
} from './common.ts';

const DEFAULTS = { rate: 10, maxVUs: 40 };
const API_URL = `${baseUrl()}/api/streams`;
const AUTH = { Authorization: `Bearer ${requiredEnv('ADMIN_TOKEN')}` };
const JSON_HEADERS = { ...AUTH, 'Content-Type': 'application/json' };
const OPERATIONS = ['api-create', 'api-get', 'api-list', 'api-rotate', 'api-delete'];

const base = baseOptions(rampingArrivalRate(DEFAULTS));
export const options: Options = {
  ...base,
  thresholds: { ...base.thresholds, ...p95Thresholds(OPERATIONS, 500) },
};

const lifecycles = new Counter('api_stream_lifecycles');

interface StreamBody {
  id?: unknown;
  streamKey?: unknown;
  live?: unknown;
  streams?: unknown;
}

function parse(body: unknown): StreamBody {
  try {
    const parsed: unknown = JSON.parse(bodyText(body));
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {};
  }
}

export default function (): void {
  const name = `k6 api ${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  const create = http.post(API_URL, JSON.stringify({ name }), {
    headers: JSON_HEADERS,
    tags: { name: 'api-create' },
  });
  const created = parse(create.body);
  const ok = check(create, {
    'create is 201': (r) => r.status === 201,
    'create returns id and streamKey': () =>
      typeof created.id === 'string' && typeof created.streamKey === 'string',
  });
  if (!ok || typeof created.id !== 'string') return;
  const streamUrl = `${API_URL}/${encodeURIComponent(created.id)}`;

  const get = http.get(streamUrl, { headers: AUTH, tags: { name: 'api-get' } });
  check(get, {
    'get is 200': (r) => r.status === 200,
    'get has live and no key': (r) => {
      const body = parse(r.body);
      return typeof body.live === 'boolean' && body.streamKey === undefined;
    },
  });

  const list = http.get(API_URL, { headers: AUTH, tags: { name: 'api-list' } });
  check(list, {
    'list is 200': (r) => r.status === 200,
    'list has streams': (r) => Array.isArray(parse(r.body).streams),
  });

  const rotate = http.post(`${streamUrl}/key`, null, {
    headers: AUTH,
    tags: { name: 'api-rotate' },
  });
  check(rotate, {
    'rotate is 200': (r) => r.status === 200,
    'rotate returns a new key': (r) => {
      const key = parse(r.body).streamKey;
      return typeof key === 'string' && key !== created.streamKey;
    },
  });

  const del = http.del(streamUrl, null, { headers: AUTH, tags: { name: 'api-delete' } });
  if (check(del, { 'delete is 204': (r) => r.status === 204 })) lifecycles.add(1);
}
