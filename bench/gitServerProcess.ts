/**
 * The benchmarks' primary: `git http-backend` behind the local git server, in a process of
 * its own, as a real Git host would be. In the benchmark's process, every http-backend spawn
 * would stall the event loop the functions under test run on. Each answered request is
 * written to stdout as a JSON line; a `flush` line on stdin is answered once every record
 * before it has been written. A JSON `updateRef` line moves a ref of one of its repositories
 * (a push landing on the host), answered with `updated` and the same id.
 *
 *   node --import tsx bench/gitServerProcess.ts <root>
 */
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { git } from '../bin/local/git.ts';
import { startGitServer } from '../bin/local/startGitServer.ts';

const root = process.argv[2];
if (root === undefined) throw new Error('usage: gitServerProcess.ts <root>');
// GitLab's projects listing too: the onboarding benchmark's new region lists the primary's repositories there.
const server = await startGitServer({ root, gitlabApi: true, onRequest: (record) => void process.stdout.write(`${JSON.stringify({ request: record })}\n`) });
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
interface UpdateRef {
  readonly updateRef: { readonly id: number; readonly repository: string; readonly ref: string; readonly after: string; readonly before: string };
}
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'flush') {
    process.stdout.write(`${JSON.stringify({ flushed: true })}\n`);
    return;
  }
  const { updateRef } = JSON.parse(line) as UpdateRef;
  git(['update-ref', updateRef.ref, updateRef.after, updateRef.before], { cwd: join(root, `${updateRef.repository}.git`) }).then(
    () => process.stdout.write(`${JSON.stringify({ updated: updateRef.id })}\n`),
    (error: unknown) => process.stdout.write(`${JSON.stringify({ updated: updateRef.id, error: String(error) })}\n`),
  );
});
process.stdin.once('end', () => void server.stop().then(() => process.exit(0)));
process.once('SIGTERM', () => void server.stop().then(() => process.exit(0)));
