/**
 * Loads infra/k8s and checks what the API schemas cannot: that the objects fit together
 * (selectors, names, keys, ports) and fit wisp (its variables, its probes, its drain). Each
 * check returns a list of problems, empty when all is well, so a test can show that a
 * broken copy of the manifests makes it fail.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, Located } from './kubernetes.ts';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const K8S_DIR = path.join(ROOT, 'infra/k8s');

/** The Secret template: validated like the rest, never applied by the kustomization. */
export const SECRET_TEMPLATE = 'secret.example.yaml';
/** Helm values files (not Kubernetes objects). */
const VALUES = /\.values\.ya?ml$/;
/** Variables the manifests define for their own `$(...)` use; wisp does not read them. */
const HELPER = /^K8S_[A-Z0-9_]+$/;
/** wisp's image, as the manifests name it (the kustomization maps it to a registry). */
const WISP_IMAGE = 'wisp';

/**
 * YAML as kubectl reads it: sigs.k8s.io/yaml follows YAML 1.1, where an unquoted `on`,
 * `yes` or `off` is a boolean (a ConfigMap value must then be quoted), not 1.2's string.
 */
export function parseYaml(text: string) {
  return parseAllDocuments(text, { version: '1.1', prettyErrors: true });
}

export interface YamlFile {
  /** Relative to infra/k8s. */
  file: string;
  documents: unknown[];
}

/** Every .yaml file under infra/k8s, each parsed into its documents (a syntax error throws). */
export function loadYamlFiles(dir = K8S_DIR): YamlFile[] {
  const files: YamlFile[] = [];
  const walk = (current: string): void => {
    for (const name of readdirSync(current).sort()) {
      const full = path.join(current, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(name)) {
        const documents = parseYaml(readFileSync(full, 'utf8'));
        const parsed: unknown[] = [];
        for (const document of documents) {
          if (document.errors.length > 0) {
            throw new Error(`${path.relative(dir, full)}: ${document.errors[0].message}`);
          }
          const value: unknown = document.toJS();
          if (value !== null && value !== undefined) parsed.push(value);
        }
        files.push({ file: path.relative(dir, full), documents: parsed });
      }
    }
  };
  walk(dir);
  return files;
}

export const isKustomization = (file: string): boolean =>
  path.basename(file) === 'kustomization.yaml';
export const isValues = (file: string): boolean => VALUES.test(file);

/** The Kubernetes objects: every document of every file but kustomizations and values. */
export function kubeObjects(files: YamlFile[]): Located[] {
  return files
    .filter((f) => !isKustomization(f.file) && !isValues(f.file))
    .flatMap((f) =>
      f.documents.map((object, i) => ({ source: `${f.file}#${i}`, object: object as KubeObject })),
    );
}

/** The fields of a Kustomization (kustomize's api/types/kustomization.go, v5). */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion',
  'kind',
  'metadata',
  'openapi',
  'namePrefix',
  'nameSuffix',
  'namespace',
  'commonLabels',
  'labels',
  'commonAnnotations',
  'patchesStrategicMerge',
  'patchesJson6902',
  'patches',
  'images',
  'replacements',
  'replicas',
  'vars',
  'sortOptions',
  'resources',
  'components',
  'crds',
  'bases',
  'configMapGenerator',
  'secretGenerator',
  'helmGlobals',
  'helmCharts',
  'generatorOptions',
  'configurations',
  'generators',
  'transformers',
  'validators',
  'buildMetadata',
]);
const IMAGE_FIELDS = new Set(['name', 'newName', 'newTag', 'digest', 'tagSuffix']);

/**
 * Each kustomization is a Kustomization with known fields only, and lists exactly the
 * object files of its folder, the Secret template excepted.
 */
export function checkKustomizations(files: YamlFile[]): string[] {
  const problems: string[] = [];
  for (const k of files.filter((f) => isKustomization(f.file))) {
    const dir = path.dirname(k.file);
    const doc = k.documents[0] as {
      apiVersion?: string;
      kind?: string;
      resources?: string[];
      namespace?: string;
      images?: Record<string, unknown>[];
    };
    if (doc.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || doc.kind !== 'Kustomization') {
      problems.push(`${k.file}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
    }
    for (const field of Object.keys(doc)) {
      if (!KUSTOMIZATION_FIELDS.has(field)) problems.push(`${k.file}: unknown field ${field}`);
    }
    for (const image of doc.images ?? []) {
      for (const field of Object.keys(image)) {
        if (!IMAGE_FIELDS.has(field)) problems.push(`${k.file}: images: unknown field ${field}`);
      }
    }
    const listed = new Set(doc.resources ?? []);
    const here = files
      .filter((f) => path.dirname(f.file) === dir && !isKustomization(f.file))
      .filter((f) => !isValues(f.file) && path.basename(f.file) !== SECRET_TEMPLATE)
      .map((f) => path.basename(f.file));
    for (const name of here) {
      if (!listed.has(name)) problems.push(`${k.file}: does not list ${name}`);
    }
    for (const name of listed) {
      if (!here.includes(name)) problems.push(`${k.file}: lists ${name}, which is not there`);
    }
    if (listed.has(SECRET_TEMPLATE)) {
      problems.push(`${k.file}: lists the secret template ${SECRET_TEMPLATE}`);
    }
    if (doc.namespace !== 'wisp') problems.push(`${k.file}: namespace is not wisp`);
  }
  return problems;
}

// ---- Shapes the checks read (already validated against the schemas by then). ----

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    configMapKeyRef?: { name: string; key: string };
    secretKeyRef?: { name: string; key: string; optional?: boolean };
  };
}
interface Port {
  name?: string;
  containerPort: number;
  protocol?: string;
}
interface Probe {
  httpGet?: { path?: string; port: number | string };
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: Port[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
}
interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  terminationGracePeriodSeconds?: number;
  containers: Container[];
  initContainers?: Container[];
  volumes?: {
    name: string;
    configMap?: { name: string; items?: { key: string }[] };
    secret?: { secretName: string };
  }[];
}
interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}
export interface Workload {
  source: string;
  kind: string;
  name: string;
  selector: Record<string, string>;
  template: PodTemplate;
}

const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'];

export function workloads(objects: Located[]): Workload[] {
  return objects
    .filter(({ object }) => WORKLOAD_KINDS.includes(object.kind))
    .map(({ source, object }) => {
      const spec = object.spec as {
        selector: { matchLabels?: Record<string, string> };
        template: PodTemplate;
      };
      return {
        source,
        kind: object.kind,
        name: object.metadata?.name ?? '',
        selector: spec.selector.matchLabels ?? {},
        template: spec.template,
      };
    });
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

const allContainers = (pod: PodSpec): Container[] => [
  ...(pod.initContainers ?? []),
  ...pod.containers,
];

const isWisp = (container: Container): boolean => container.image === WISP_IMAGE;

function envValue(container: Container, name: string): string | undefined {
  return container.env?.find((e) => e.name === name)?.value;
}

function byKind(objects: Located[], kind: string): Located[] {
  return objects.filter(({ object }) => object.kind === kind);
}

function named(objects: Located[], kind: string, name: string): KubeObject | undefined {
  return byKind(objects, kind).find(({ object }) => object.metadata?.name === name)?.object;
}

/** Selectors of workloads, Services and PDBs, and the HPA's target, point at real pods. */
export function checkSelectors(objects: Located[]): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const w of all) {
    if (!matches(w.selector, w.template.metadata?.labels)) {
      problems.push(`${w.source}: the selector does not match the pod template's labels`);
    }
  }
  for (const { source, object } of byKind(objects, 'Service')) {
    const spec = object.spec as {
      selector?: Record<string, string>;
      ports: { name?: string; targetPort?: number | string }[];
    };
    const targets = all.filter((w) => matches(spec.selector ?? {}, w.template.metadata?.labels));
    if (targets.length !== 1) {
      problems.push(`${source}: the selector matches ${targets.length} workloads, not 1`);
      continue;
    }
    const ports = allContainers(targets[0].template.spec).flatMap((c) => c.ports ?? []);
    for (const port of spec.ports) {
      const target = port.targetPort;
      const found =
        typeof target === 'string'
          ? ports.some((p) => p.name === target)
          : ports.some((p) => p.containerPort === target);
      if (!found) problems.push(`${source}: targetPort ${String(target)} is no port of the pods`);
    }
  }
  for (const { source, object } of byKind(objects, 'PodDisruptionBudget')) {
    const selector = (object.spec as { selector: { matchLabels: Record<string, string> } }).selector
      .matchLabels;
    const targets = all.filter((w) => matches(selector, w.template.metadata?.labels));
    if (targets.length !== 1) {
      problems.push(`${source}: the selector matches ${targets.length} workloads, not 1`);
    }
  }
  for (const { source, object } of byKind(objects, 'HorizontalPodAutoscaler')) {
    const ref = (object.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
    if (!all.some((w) => w.kind === ref.kind && w.name === ref.name)) {
      problems.push(`${source}: scaleTargetRef ${ref.kind}/${ref.name} does not exist`);
    }
  }
  return problems;
}

/** ConfigMap and Secret references (env, envFrom, volumes, Ingress TLS) name real keys. */
export function checkReferences(objects: Located[], secrets: Located[]): string[] {
  const problems: string[] = [];
  const keysOf = (kind: 'ConfigMap' | 'Secret', name: string): Set<string> | undefined => {
    const object = named(kind === 'Secret' ? secrets : objects, kind, name);
    if (!object) return undefined;
    const data = { ...(object.data as object), ...(object.stringData as object) };
    return new Set(Object.keys(data));
  };
  for (const w of workloads(objects)) {
    const pod = w.template.spec;
    for (const c of allContainers(pod)) {
      const where = `${w.source} container ${c.name}`;
      for (const from of c.envFrom ?? []) {
        const name = from.configMapRef?.name ?? from.secretRef?.name ?? '';
        const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
        if (!keysOf(kind, name)) problems.push(`${where}: envFrom ${kind} ${name} does not exist`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.configMapKeyRef ?? e.valueFrom?.secretKeyRef;
        if (!ref) continue;
        const kind = e.valueFrom?.configMapKeyRef ? 'ConfigMap' : 'Secret';
        const keys = keysOf(kind, ref.name);
        if (!keys) problems.push(`${where}: env ${e.name}: ${kind} ${ref.name} does not exist`);
        else if (!keys.has(ref.key)) {
          problems.push(`${where}: env ${e.name}: ${kind} ${ref.name} has no key ${ref.key}`);
        }
      }
    }
    for (const volume of pod.volumes ?? []) {
      if (volume.configMap) {
        const keys = keysOf('ConfigMap', volume.configMap.name);
        if (!keys) problems.push(`${w.source}: volume ${volume.name}: no ConfigMap`);
        for (const item of volume.configMap.items ?? []) {
          if (keys && !keys.has(item.key)) {
            problems.push(`${w.source}: volume ${volume.name}: no key ${item.key}`);
          }
        }
      }
      if (volume.secret && !keysOf('Secret', volume.secret.secretName)) {
        problems.push(
          `${w.source}: volume ${volume.name}: Secret ${volume.secret.secretName} is not in ${SECRET_TEMPLATE}`,
        );
      }
    }
  }
  for (const { source, object } of byKind(objects, 'Ingress')) {
    const spec = object.spec as {
      tls?: { secretName?: string }[];
      rules: {
        http: { paths: { backend: { service: { name: string; port: { name?: string } } } }[] };
      }[];
    };
    for (const tls of spec.tls ?? []) {
      if (tls.secretName && !keysOf('Secret', tls.secretName)) {
        problems.push(`${source}: TLS Secret ${tls.secretName} is not in ${SECRET_TEMPLATE}`);
      }
    }
    for (const { backend } of spec.rules.flatMap((r) => r.http.paths)) {
      const service = named(objects, 'Service', backend.service.name);
      const ports = (service?.spec as { ports: { name?: string }[] } | undefined)?.ports ?? [];
      if (!service) problems.push(`${source}: Service ${backend.service.name} does not exist`);
      else if (!ports.some((p) => p.name === backend.service.port.name)) {
        problems.push(
          `${source}: Service ${backend.service.name} has no port ${backend.service.port.name}`,
        );
      }
    }
  }
  return problems;
}

/**
 * wisp containers set only variables wisp reads (helpers: K8S_*, each one used), every
 * `$(VAR)` resolves (Kubernetes leaves an unknown one in the value as it is), and each
 * node gets its identity from the downward API.
 */
export function checkEnv(objects: Located[], known: Set<string>): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of allContainers(w.template.spec)) {
      const where = `${w.source} container ${c.name}`;
      const defined = new Set<string>();
      for (const from of c.envFrom ?? []) {
        const map = from.configMapRef && named(objects, 'ConfigMap', from.configMapRef.name);
        for (const key of Object.keys((map?.data as object | undefined) ?? {})) {
          defined.add(key);
          if (isWisp(c) && !known.has(key)) {
            problems.push(
              `${where}: ${key} (from ConfigMap ${from.configMapRef?.name}) is not a variable wisp reads`,
            );
          }
        }
      }
      const references = (text: string) =>
        [...text.matchAll(/\$\(([A-Za-z0-9_]+)\)/g)].map((m) => m[1]);
      for (const e of c.env ?? []) {
        for (const ref of references(e.value ?? '')) {
          if (!defined.has(ref))
            problems.push(`${where}: ${e.name} uses $(${ref}), not defined before it`);
        }
        defined.add(e.name);
        if (isWisp(c) && !HELPER.test(e.name) && !known.has(e.name)) {
          problems.push(`${where}: ${e.name} is not a variable wisp reads`);
        }
      }
      for (const text of [...(c.command ?? []), ...(c.args ?? [])]) {
        for (const ref of references(text)) {
          if (!defined.has(ref))
            problems.push(`${where}: command uses $(${ref}), which is not defined`);
        }
      }
      const used = new Set(
        references([...(c.env ?? []).map((e) => e.value ?? ''), ...(c.args ?? [])].join(' ')),
      );
      for (const e of c.env ?? []) {
        if (HELPER.test(e.name) && !used.has(e.name))
          problems.push(`${where}: helper ${e.name} is never used`);
      }
      if (!isWisp(c)) continue;
      const nodeId = c.env?.find((e) => e.name === 'NODE_ID');
      if (nodeId?.valueFrom?.fieldRef?.fieldPath !== 'metadata.name') {
        problems.push(`${where}: NODE_ID does not come from metadata.name`);
      }
      for (const name of [
        'ROLES',
        'PORT',
        'REDIS_URL',
        'CLUSTER_SECRET',
        'ADMIN_TOKEN',
        'INTERNAL_URL',
      ]) {
        if (!c.env?.some((e) => e.name === name)) problems.push(`${where}: ${name} is not set`);
      }
      if (!/^http:\/\/\$\(K8S_POD_IP\):/.test(envValue(c, 'INTERNAL_URL') ?? '')) {
        problems.push(`${where}: INTERNAL_URL is not the pod's own address`);
      }
    }
  }
  return problems;
}

/** The port a probe targets, as a number (a named port resolved in the container). */
function probePort(container: Container, probe: Probe | undefined): number | undefined {
  const port = probe?.httpGet?.port;
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Liveness on /healthz, readiness on /readyz, both on the port wisp listens on (PORT). */
export function checkProbes(objects: Located[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.template.spec.containers.filter(isWisp)) {
      const where = `${w.source} container ${c.name}`;
      const port = Number(envValue(c, 'PORT') ?? 8080);
      const expected = {
        livenessProbe: '/healthz',
        readinessProbe: '/readyz',
        startupProbe: '/healthz',
      } as const;
      for (const [kind, path] of Object.entries(expected) as [keyof typeof expected, string][]) {
        const probe = c[kind];
        if (!probe) {
          if (kind !== 'startupProbe') problems.push(`${where}: no ${kind}`);
          continue;
        }
        if (probe.httpGet?.path !== path) problems.push(`${where}: ${kind} is not GET ${path}`);
        if (probePort(c, probe) !== port) problems.push(`${where}: ${kind} is not on PORT ${port}`);
      }
    }
  }
  return problems;
}

/** Seconds a preStop hook sleeps (exec sleep N, or the sleep action). */
function preStopSeconds(container: Container): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  return command[0] === 'sleep' ? Number(command[1]) : 0;
}

/** terminationGracePeriodSeconds covers preStop + DRAIN_TIMEOUT_MS + 10 s to close. */
export function checkDrain(objects: Located[]): string[] {
  const problems: string[] = [];
  const config = named(objects, 'ConfigMap', 'wisp-config')?.data as Record<string, string>;
  const configured = Number(config?.DRAIN_TIMEOUT_MS ?? 60_000) / 1000;
  for (const w of workloads(objects)) {
    for (const c of w.template.spec.containers.filter(isWisp)) {
      const drain = Number(envValue(c, 'DRAIN_TIMEOUT_MS') ?? configured * 1000) / 1000;
      const needed = preStopSeconds(c) + drain + 10;
      const grace = w.template.spec.terminationGracePeriodSeconds ?? 30;
      if (grace < needed) {
        problems.push(
          `${w.source}: terminationGracePeriodSeconds ${grace} < preStop ${preStopSeconds(c)} s + drain ${drain} s + 10 s`,
        );
      }
    }
  }
  return problems;
}

/** Prometheus annotations point at wisp's own port and /metrics; the port is named http. */
export function checkScrape(objects: Located[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const wisp = w.template.spec.containers.find(isWisp);
    if (!wisp) continue;
    const annotations = w.template.metadata?.annotations ?? {};
    const port = envValue(wisp, 'PORT') ?? '8080';
    if (annotations['prometheus.io/scrape'] !== 'true') problems.push(`${w.source}: not scraped`);
    if (annotations['prometheus.io/port'] !== port) {
      problems.push(`${w.source}: prometheus.io/port is not PORT (${port})`);
    }
    if (annotations['prometheus.io/path'] !== '/metrics') {
      problems.push(`${w.source}: prometheus.io/path is not /metrics`);
    }
    if (wisp.ports?.find((p) => p.name === 'http')?.containerPort !== Number(port)) {
      problems.push(`${w.source}: the port named http is not PORT (${port})`);
    }
  }
  return problems;
}

/**
 * Media pods on the host network: each declares its WebRTC ports (RTC_PORT + one per
 * worker, UDP and TCP), resolves cluster names, and no two roles need the same host port
 * or overlapping pipe ranges, so an ingest and an edge can share a node.
 */
export function checkHostNetwork(objects: Located[]): string[] {
  const problems: string[] = [];
  const ports: { source: string; port: number; key: string }[] = [];
  const ranges: { source: string; from: number; to: number }[] = [];
  for (const w of workloads(objects).filter((x) => x.template.spec.hostNetwork)) {
    const pod = w.template.spec;
    if (pod.dnsPolicy !== 'ClusterFirstWithHostNet') {
      problems.push(`${w.source}: hostNetwork without dnsPolicy ClusterFirstWithHostNet`);
    }
    for (const c of allContainers(pod)) {
      for (const p of c.ports ?? []) {
        const key = `${p.containerPort}/${p.protocol ?? 'TCP'}`;
        const other = ports.find((x) => x.key === key && x.source !== w.source);
        if (other) problems.push(`${w.source}: host port ${key} is also used by ${other.source}`);
        ports.push({ source: w.source, port: p.containerPort, key });
      }
      if (!isWisp(c)) continue;
      const rtcPort = Number(envValue(c, 'RTC_PORT') ?? 40000);
      const workers = Number(envValue(c, 'MEDIASOUP_WORKERS'));
      if (!Number.isInteger(workers)) problems.push(`${w.source}: MEDIASOUP_WORKERS is not set`);
      for (let port = rtcPort; port < rtcPort + workers; port++) {
        for (const protocol of ['UDP', 'TCP']) {
          if (
            !c.ports?.some((p) => p.containerPort === port && (p.protocol ?? 'TCP') === protocol)
          ) {
            problems.push(`${w.source}: WebRTC port ${port}/${protocol} is not declared`);
          }
        }
      }
      const from = Number(envValue(c, 'RTC_MIN_PORT') ?? 40000);
      const to = Number(envValue(c, 'RTC_MAX_PORT') ?? 49999);
      ranges.push({ source: w.source, from, to });
    }
  }
  for (const range of ranges) {
    for (const { source, port, key } of ports) {
      if (port >= range.from && port <= range.to) {
        problems.push(
          `${range.source}: pipe range ${range.from}-${range.to} holds port ${key} of ${source}`,
        );
      }
    }
    for (const other of ranges) {
      if (other.source > range.source && range.from <= other.to && other.from <= range.to) {
        problems.push(`${range.source} and ${other.source}: pipe ranges overlap`);
      }
    }
  }
  return problems;
}

/** The HPA's Pods metrics are wisp metrics, each served by a prometheus-adapter rule. */
export function checkAutoscaling(
  objects: Located[],
  files: YamlFile[],
  metrics: Set<string>,
): string[] {
  const problems: string[] = [];
  const adapter = files.find((f) => path.basename(f.file) === 'prometheus-adapter.values.yaml');
  const rules =
    (
      adapter?.documents[0] as {
        rules?: { custom?: { seriesQuery: string; name: { as: string } }[] };
      }
    )?.rules?.custom ?? [];
  const served = new Set(rules.map((r) => r.name.as));
  for (const rule of rules) {
    const series = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(rule.seriesQuery)?.[1] ?? '';
    if (!metrics.has(series)) problems.push(`adapter rule: ${series} is not a wisp metric`);
  }
  for (const { source, object } of byKind(objects, 'HorizontalPodAutoscaler')) {
    const specMetrics =
      (object.spec as { metrics?: { type: string; pods?: { metric: { name: string } } }[] })
        .metrics ?? [];
    const pods = specMetrics.filter((m) => m.type === 'Pods');
    if (pods.length === 0) problems.push(`${source}: no Pods metric`);
    if (!specMetrics.some((m) => m.type === 'Resource'))
      problems.push(`${source}: no resource metric to fall back on`);
    for (const m of pods) {
      const name = m.pods?.metric.name ?? '';
      if (!metrics.has(name)) problems.push(`${source}: ${name} is not a wisp metric`);
      if (!served.has(name)) problems.push(`${source}: no prometheus-adapter rule serves ${name}`);
    }
  }
  return problems;
}
