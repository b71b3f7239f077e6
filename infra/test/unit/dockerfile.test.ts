/**
 * The Dockerfile cannot be built here (no Docker engine), so this checks what can be checked
 * without building it: it parses and lints clean (dockerfile-utils, the validator behind
 * the VS Code Docker extension), it runs infra/setup.sh, the context it copies holds every
 * file setup.sh and wisp need (.dockerignore read with Docker's own matching rules), and
 * it starts wisp the way the Kubernetes manifests do.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import dockerignore from '@balena/dockerignore';
import { DockerfileParser } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, test } from 'vitest';
import { ROOT, kubeObjects, loadYamlFiles, workloads } from '../support/manifests.ts';

const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const instructions = DockerfileParser.parse(dockerfile).getInstructions();
const args = (keyword: string): string[] =>
  instructions.filter((i) => i.getKeyword() === keyword).map((i) => i.getArgumentsContent() ?? '');
const lint = (content: string): string[] =>
  validate(content).map((d) => {
    const message = typeof d.message === 'string' ? d.message : d.message.value;
    return `line ${d.range.start.line + 1}: ${message}`;
  });

const packageJson = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  workspaces: string[];
};

describe('Dockerfile', () => {
  test('parses and lints clean', () => {
    expect(lint(dockerfile)).toEqual([]);
  });

  test('a typo in it fails the lint', () => {
    const broken = dockerfile.replace(/^USER node$/m, 'USR node').replace('8080/tcp', '8080/tpc');
    expect(lint(broken)).toEqual([
      expect.stringMatching(/Unknown instruction: USR/),
      expect.stringMatching(/Invalid proto: tpc/),
    ]);
  });

  test('builds on Debian 12 (what setup.sh is for) by running infra/setup.sh', () => {
    const from = args('ARG').find((a) => a.startsWith('NODE_IMAGE='));
    expect(from).toMatch(/^NODE_IMAGE=node:\d+-bookworm$/);
    expect(args('FROM')).toEqual(['${NODE_IMAGE}']);
    const setup = args('RUN').filter((r) => /\bbash infra\/setup\.sh\b/.test(r));
    expect(setup).toHaveLength(1);
    expect(setup[0]).not.toContain('--test');
  });

  test('copies a context that holds every file setup.sh and wisp need', () => {
    const copies = args('COPY').map((a) => a.split(/\s+/));
    for (const parts of copies) {
      for (const source of parts.slice(0, -1)) {
        expect(existsSync(path.join(ROOT, source)), `COPY source ${source}`).toBe(true);
      }
    }
    expect(copies).toContainEqual(['.', '.']);
    const ignore = dockerignore().add(
      readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n'),
    );
    const tracked = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const needed = tracked.filter(
      (file) =>
        ['package.json', 'package-lock.json', 'tsconfig.json'].includes(file) ||
        file.startsWith('infra/setup.sh') ||
        file.startsWith('infra/scripts/') ||
        file.startsWith('infra/mediasoup/') ||
        packageJson.workspaces.some(
          (w) =>
            file === `${w}/package.json` ||
            file.startsWith(`${w}/src/`) ||
            file === `${w}/build.ts`,
        ),
    );
    expect(needed).toEqual(expect.arrayContaining(['infra/setup.sh', 'server/src/main.ts']));
    expect(needed.filter((file) => ignore.ignores(file))).toEqual([]);
    // And it does keep out what must not be in the image or would break `npm ci`.
    for (const file of ['node_modules/x', 'core/node_modules/x', '.git/HEAD', 'data/state.json']) {
      expect(ignore.ignores(file), file).toBe(true);
    }
  });

  test('runs as an unprivileged user, exposes the default ports, starts with npm start', () => {
    const user = args('USER');
    expect(user).toHaveLength(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    const exposed = args('EXPOSE').join(' ');
    expect(exposed).toContain('8080/tcp'); // PORT's default
    expect(exposed).toMatch(/\b40000(-\d+)?\/udp/); // RTC_PORT's default, worker 0
    expect(exposed).toMatch(/\b40000(-\d+)?\/tcp/);
    expect(args('CMD')).toEqual(['["npm", "start"]']);
  });

  test('the Kubernetes pods run what npm start runs', () => {
    const start = packageJson.scripts.start.split(' ');
    const pods = workloads(kubeObjects(loadYamlFiles()));
    const wisp = pods.flatMap((w) => w.template.spec.containers.filter((c) => c.image === 'wisp'));
    expect(wisp.length).toBeGreaterThan(0);
    for (const container of wisp) {
      expect(container.command).toBeUndefined(); // keeps the image's ENTRYPOINT (tini)
      expect(container.args).toEqual(start);
    }
  });
});
