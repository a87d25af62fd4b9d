// The cost of deep verification (verifyMirror) on one repository: the first run hashes and
// re-indexes every pack and walks every object's links; later runs recall the verified packs
// and read only their indexes. Compared with `git fsck --full` on the same repository.
// Run: node --import tsx/esm bench/verifyMirrorCost.ts [commits] [files]
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRepository } from '../bin/local/generateRepository.ts';
import { git } from '../bin/local/git.ts';
import { BARE_CONFIG } from '../lambdas/shared/git/MirrorRepository.ts';
import { verifyMirror } from '../lambdas/shared/git/verifyMirror.ts';
import { parseRepositoryPath } from '../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../lambdas/shared/storage/MemoryObjectStore.ts';
import type { ObjectStore } from '../lambdas/shared/storage/ObjectStore.ts';

const commits = Number(process.argv[2] ?? 9000);
const files = Number(process.argv[3] ?? 60);
const root = await mkdtemp(join(tmpdir(), 'git-geo-verify-cost-'));
try {
  const dir = join(root, 'repo.git');
  await git(['init', '--bare', '-q', '-b', 'main', dir]);
  await generateRepository(dir, { commits, files });
  await git(['repack', '-adq'], { cwd: dir });
  await git(['pack-refs', '--all'], { cwd: dir });
  await git(['update-server-info'], { cwd: dir });
  const objects = Number((await git(['count-objects', '-v'], { cwd: dir })).match(/in-pack: (\d+)/)?.[1] ?? 0);
  const memory = new MemoryObjectStore();
  const prefix = 'bench/repo.git/';
  const names = ['HEAD', 'packed-refs', 'info/refs', 'objects/info/packs'];
  for (const name of await readdir(join(dir, 'objects', 'pack'))) if (/\.(pack|idx)$/.test(name)) names.push(`objects/pack/${name}`);
  await memory.put(`${prefix}config`, BARE_CONFIG);
  await memory.put(`${prefix}refs/heads/.keep`, '');
  let packBytes = 0;
  for (const name of names) {
    const body = await readFile(join(dir, name));
    if (name.endsWith('.pack')) packBytes += body.length;
    await memory.put(prefix + name, body);
  }
  // Count the object-store requests each run makes.
  const counts = { get: 0, stream: 0, head: 0, list: 0, put: 0 };
  const counting: ObjectStore = {
    get: (key) => (counts.get++, memory.get(key)),
    stream: (key) => (counts.stream++, memory.stream(key)),
    head: (key) => (counts.head++, memory.head(key)),
    put: (key, body) => (counts.put++, memory.put(key, body)),
    putStream: (key, body) => (counts.put++, memory.putStream(key, body)),
    putWithPrefix: (key, prefix, source) => (counts.put++, memory.putWithPrefix(key, prefix, source)),
    copy: (from, to) => memory.copy(from, to),
    delete: (keys) => memory.delete(keys),
    list: (p) => (counts.list++, memory.list(p)),
  };
  const repository = parseRepositoryPath('bench/repo');
  const run = async (label: string, remember: boolean): Promise<void> => {
    Object.assign(counts, { get: 0, stream: 0, head: 0, list: 0, put: 0 });
    const cpu = process.cpuUsage();
    const started = performance.now();
    const result = await verifyMirror(counting, repository, { remember });
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (!result.ok) throw new Error(`verification failed: ${JSON.stringify(result.problems)}`);
    console.log(
      `${label}: ${wall.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU; ${result.packsHashed} pack(s) hashed (${(result.bytesHashed / 2 ** 20).toFixed(1)} MiB); requests ${JSON.stringify(counts)}`,
    );
  };
  console.log(`repository: ${commits} commits, ${objects} objects, pack ${(packBytes / 2 ** 20).toFixed(1)} MiB`);
  await run('deep, first run (every pack hashed)', true);
  await run('deep, later run (packs recalled)', true);
  await run('deep, nothing remembered', false);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await git(['fsck', '--full', '--no-dangling'], { cwd: dir });
  console.log(`git fsck --full: ${(performance.now() - started).toFixed(0)} ms wall (its own processes; parent CPU ${((process.cpuUsage(cpu).user) / 1000).toFixed(0)} ms)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
