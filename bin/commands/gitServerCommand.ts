import { Command } from 'commander';
import { resolve } from 'node:path';
import { startGitServer } from '../local/startGitServer.ts';

export function gitServerCommand(): Command {
  return new Command('git-server')
    .description('serve the bare repositories under a directory over smart HTTP (git http-backend), to play the primary locally')
    .requiredOption('--root <dir>', 'directory holding <group>/<project>.git bare repositories')
    .option('--port <port>', 'loopback port', (value) => Number.parseInt(value, 10), 0)
    .option('--user <user:password>', 'require this user for pushes (Basic auth)')
    .action(async (options: { root: string; port: number; user?: string }) => {
      const [user, password] = options.user?.split(':') ?? [];
      const server = await startGitServer({
        root: resolve(options.root),
        port: options.port,
        ...(user && password ? { users: { [user]: password } } : {}),
        onPush: (repository, updates) => {
          for (const update of updates) process.stderr.write(`push ${repository} ${update.ref} ${update.before.slice(0, 8)}..${update.after.slice(0, 8)}\n`);
        },
      });
      process.stdout.write(`${JSON.stringify({ url: server.url, root: server.root })}\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', done);
        process.once('SIGTERM', done);
      });
      await server.stop();
    });
}
