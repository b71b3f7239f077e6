/**
 * infra/k8s, validated without a cluster: every object against the Kubernetes API schemas
 * (strictly: an unknown field fails, as with `kubectl --validate=strict`), then the
 * cross-references no schema sees. Each check is also run on a broken copy, to show it can
 * fail.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { platformEnv, seriesNames } from '../support/contract.ts';
import { schemaErrors, typeErrors, type KubeObject, type Located } from '../support/kubernetes.ts';
import {
  SECRET_TEMPLATE,
  checkAutoscaling,
  checkDrain,
  checkEnv,
  checkHostNetwork,
  checkKustomizations,
  checkProbes,
  checkReferences,
  checkScrape,
  checkSelectors,
  kubeObjects,
  loadYamlFiles,
  parseYaml,
  type YamlFile,
} from '../support/manifests.ts';

let files: YamlFile[];
let everything: Located[];
/** What the kustomizations apply (the Secret template is checked, not applied). */
let applied: Located[];
let secrets: Located[];

beforeAll(() => {
  files = loadYamlFiles();
  everything = kubeObjects(files);
  applied = everything.filter((o) => !o.source.startsWith(`${SECRET_TEMPLATE}#`));
  secrets = everything.filter((o) => o.source.startsWith(`${SECRET_TEMPLATE}#`));
});

const clone = <T>(value: T): T => structuredClone(value);

/** A copy of the applied objects with `edit` applied to the object named `name`. */
function edited(kind: string, name: string, edit: (object: KubeObject) => void): Located[] {
  const copy = clone(applied);
  const target = copy.find((o) => o.object.kind === kind && o.object.metadata?.name === name);
  if (!target) throw new Error(`no ${kind} ${name}`);
  edit(target.object);
  return copy;
}

/** Parsed YAML, edited freely by the tests that break a copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Any = Record<string, any>;
const podSpec = (object: KubeObject): Any => (object.spec as Any).template.spec as Any;
const wispContainer = (object: KubeObject): Any =>
  (podSpec(object).containers as Any[]).find((c) => c.image === 'wisp')!;
const env = (object: KubeObject, name: string): Any =>
  (wispContainer(object).env as Any[]).find((e) => e.name === name)!;

describe('the manifests', () => {
  test('are there: every role of the cluster, Redis, the Ingress, the HPA, PDBs', () => {
    const kinds = applied.map((o) => `${o.object.kind}/${o.object.metadata?.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'Namespace/wisp',
        'ConfigMap/wisp-config',
        'StatefulSet/wisp-redis',
        'Deployment/wisp-front',
        'Service/wisp-front',
        'Ingress/wisp-front',
        'Deployment/wisp-ingest',
        'Deployment/wisp-edge',
        'Deployment/wisp-relay',
        'Deployment/wisp-recorder',
        'HorizontalPodAutoscaler/wisp-edge',
        'PodDisruptionBudget/wisp-edge',
        'PodDisruptionBudget/wisp-ingest',
        'PodMonitor/wisp',
      ]),
    );
    expect(secrets.map((o) => o.object.metadata?.name)).toEqual([
      'wisp-secrets',
      'wisp-media-tls',
      'wisp-tls',
    ]);
  });

  test('pass the schemas of kubernetes-models (types, required fields, formats)', async () => {
    const problems: string[] = [];
    for (const { source, object } of everything) {
      for (const error of await schemaErrors(object)) problems.push(`${source}: ${error}`);
    }
    expect(problems).toEqual([]);
  });

  test('have no field the API does not define (strict, through the model types)', () => {
    const errors = typeErrors(everything);
    const problems = errors.flatMap((list, i) => list.map((e) => `${everything[i].source}: ${e}`));
    expect(problems).toEqual([]);
  }, 60_000);

  test('are all applied by their kustomization, the Secret template never', () => {
    expect(checkKustomizations(files)).toEqual([]);
  });

  test('fit together: selectors, Services, PDBs, the HPA target', () => {
    expect(checkSelectors(applied)).toEqual([]);
  });

  test('refer to ConfigMap and Secret keys that exist', () => {
    expect(checkReferences(applied, secrets)).toEqual([]);
  });

  test('set only variables wisp reads, and every $(VAR) resolves', () => {
    expect(checkEnv(applied, platformEnv())).toEqual([]);
  });

  test('probe /healthz (liveness) and /readyz (readiness) on the port wisp listens on', () => {
    expect(checkProbes(applied)).toEqual([]);
  });

  test('give SIGTERM time to drain: grace > preStop + DRAIN_TIMEOUT_MS', () => {
    expect(checkDrain(applied)).toEqual([]);
  });

  test('are scraped on /metrics of the HTTP port', () => {
    expect(checkScrape(applied)).toEqual([]);
  });

  test('declare the media ports of host-network pods, with no clash between roles', () => {
    expect(checkHostNetwork(applied)).toEqual([]);
  });

  test('scale edges on a wisp metric that prometheus-adapter serves, CPU as fallback', () => {
    expect(checkAutoscaling(applied, files, seriesNames())).toEqual([]);
  });
});

describe('a mistake in a manifest fails', () => {
  const front = () => clone(applied.find((o) => o.object.metadata?.name === 'wisp-front')!);

  test('a misspelled field (replica for replicas): the strict check catches it', async () => {
    const { object } = front();
    const spec = object.spec as Any;
    spec.replica = spec.replicas;
    delete spec.replicas;
    // The JSON schema alone allows unknown fields, as the API server's does...
    expect(await schemaErrors(object)).toEqual([]);
    // ...the model types do not.
    const [errors] = typeErrors([{ source: 'front', object }]);
    expect(errors).toEqual([
      expect.stringMatching(/^spec\.replica: .*'"?replica"?' does not exist/),
    ]);
  }, 60_000);

  test('a misspelled field deep inside a pod template', () => {
    const { object } = front();
    const probe = wispContainer(object).readinessProbe;
    probe.httpGet.paht = probe.httpGet.path;
    delete probe.httpGet.path;
    const [errors] = typeErrors([{ source: 'front', object }]);
    expect(errors).toEqual([
      expect.stringMatching(
        /^spec\.template\.spec\.containers\[0\]\.readinessProbe\.httpGet\.paht: /,
      ),
    ]);
  }, 60_000);

  test('a wrong type', async () => {
    const { object } = front();
    (object.spec as Any).replicas = 'two';
    expect(await schemaErrors(object)).toEqual([
      expect.stringContaining('replicas must be integer'),
    ]);
    expect(typeErrors([{ source: 'front', object }])[0]).toEqual([
      expect.stringMatching(/^spec\.replicas: Type 'string' is not assignable to type 'number'/),
    ]);
  }, 60_000);

  test('a missing required field', async () => {
    const { object } = front();
    delete (object.spec as Any).selector;
    expect(await schemaErrors(object)).toEqual([
      expect.stringContaining('must have required property selector'),
    ]);
  });

  test('an unquoted on in a ConfigMap (a boolean to kubectl, YAML 1.1)', async () => {
    const [document] = parseYaml('apiVersion: v1\nkind: ConfigMap\ndata:\n  RECORDINGS: on\n');
    const object = document.toJS() as KubeObject;
    expect(await schemaErrors(object)).toEqual([expect.stringContaining('must be string')]);
  });

  test('an unknown kind or apiVersion', async () => {
    const { object } = front();
    expect(await schemaErrors({ ...object, kind: 'Deploymnet' })).toEqual([
      'no Kubernetes model for apiVersion "apps/v1", kind "Deploymnet"',
    ]);
    expect(await schemaErrors({ ...object, apiVersion: 'apps/v2' })).toEqual([
      'no Kubernetes model for apiVersion "apps/v2", kind "Deployment"',
    ]);
  });

  test('a kustomization that forgets a file, or applies the Secret template', () => {
    const copy = clone(files);
    const root = copy.find((f) => f.file === 'kustomization.yaml')!;
    const doc = root.documents[0] as { resources: string[] };
    doc.resources = doc.resources.filter((r) => r !== 'edge.yaml').concat(SECRET_TEMPLATE);
    expect(checkKustomizations(copy)).toEqual([
      'kustomization.yaml: does not list edge.yaml',
      `kustomization.yaml: lists ${SECRET_TEMPLATE}, which is not there`,
      `kustomization.yaml: lists the secret template ${SECRET_TEMPLATE}`,
    ]);
  });

  test('a misspelled kustomization field', () => {
    const copy = clone(files);
    const root = copy.find((f) => f.file === 'kustomization.yaml')!;
    const doc = root.documents[0] as Any;
    doc.image = doc.images;
    delete doc.images;
    doc.image[0].newtag = doc.image[0].newTag;
    expect(checkKustomizations(copy)).toEqual(['kustomization.yaml: unknown field image']);
    doc.images = doc.image;
    delete doc.image;
    expect(checkKustomizations(copy)).toEqual(['kustomization.yaml: images: unknown field newtag']);
  });

  test('a Service whose selector matches no pods, a PDB or HPA aimed at nothing', () => {
    let copy = edited('Service', 'wisp-front', (o) => {
      (o.spec as Any).selector['app.kubernetes.io/component'] = 'frontdoor';
    });
    expect(checkSelectors(copy)).toEqual([expect.stringContaining('matches 0 workloads')]);
    copy = edited('HorizontalPodAutoscaler', 'wisp-edge', (o) => {
      (o.spec as Any).scaleTargetRef.name = 'wisp-edges';
    });
    expect(checkSelectors(copy)).toEqual([expect.stringContaining('wisp-edges does not exist')]);
  });

  test('a Secret or ConfigMap key that does not exist', () => {
    const copy = edited('Deployment', 'wisp-edge', (o) => {
      env(o, 'CLUSTER_SECRET').valueFrom.secretKeyRef.key = 'CLUSTER_SECRETS';
    });
    expect(checkReferences(copy, secrets)).toEqual([
      expect.stringContaining('Secret wisp-secrets has no key CLUSTER_SECRETS'),
    ]);
  });

  test('a variable wisp does not read, and a $(VAR) that does not resolve', () => {
    const copy = edited('Deployment', 'wisp-ingest', (o) => {
      env(o, 'RTC_ANNOUNCED_IP').name = 'RTC_ANNOUNCE_IP';
      env(o, 'NODE_URL').value = 'https://$(K8S_NODENAME).$(K8S_MEDIA_DOMAIN)';
    });
    expect(checkEnv(copy, platformEnv())).toEqual([
      expect.stringContaining('NODE_URL uses $(K8S_NODENAME), not defined before it'),
      expect.stringContaining('RTC_ANNOUNCE_IP is not a variable wisp reads'),
      expect.stringContaining('helper K8S_NODE_NAME is never used'),
    ]);
  });

  test('a readiness probe on /healthz, or on another port', () => {
    const copy = edited('Deployment', 'wisp-edge', (o) => {
      wispContainer(o).readinessProbe.httpGet.path = '/healthz';
      wispContainer(o).livenessProbe.httpGet.port = 443;
    });
    expect(checkProbes(copy)).toEqual([
      expect.stringContaining('livenessProbe is not on PORT 8080'),
      expect.stringContaining('readinessProbe is not GET /readyz'),
    ]);
  });

  test('a grace period shorter than the drain', () => {
    const copy = edited('Deployment', 'wisp-front', (o) => {
      podSpec(o).terminationGracePeriodSeconds = 60;
    });
    expect(checkDrain(copy)).toEqual([
      expect.stringContaining(
        'terminationGracePeriodSeconds 60 < preStop 10 s + drain 60 s + 10 s',
      ),
    ]);
  });

  test('a scrape annotation on the wrong port', () => {
    const copy = edited('Deployment', 'wisp-ingest', (o) => {
      (o.spec as Any).template.metadata.annotations['prometheus.io/port'] = '8080';
    });
    expect(checkScrape(copy)).toEqual([
      expect.stringContaining('prometheus.io/port is not PORT (8081)'),
    ]);
  });

  test('an undeclared media port, two roles on one host port', () => {
    const copy = edited('Deployment', 'wisp-edge', (o) => {
      env(o, 'MEDIASOUP_WORKERS').value = '3';
      env(o, 'RTC_PORT').value = '40000';
      for (const p of wispContainer(o).ports) if (p.containerPort > 40000) p.containerPort -= 10;
    });
    const problems = checkHostNetwork(copy);
    expect(problems).toContainEqual(
      expect.stringContaining('WebRTC port 40002/UDP is not declared'),
    );
    expect(problems).toContainEqual(expect.stringContaining('host port 40000/UDP is also used by'));
  });

  test('an HPA on a metric wisp does not export', () => {
    const copy = edited('HorizontalPodAutoscaler', 'wisp-edge', (o) => {
      (o.spec as Any).metrics[0].pods.metric.name = 'wisp_viewer_count';
    });
    expect(checkAutoscaling(copy, files, seriesNames())).toEqual([
      expect.stringContaining('wisp_viewer_count is not a wisp metric'),
      expect.stringContaining('no prometheus-adapter rule serves wisp_viewer_count'),
    ]);
  });
});
