/** An environment in which git reads no user or system configuration and commits as a fixed identity. */
export function isolatedGitEnv(home: string, extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_AUTHOR_NAME: 'Unit Test',
    GIT_AUTHOR_EMAIL: 'unit@example.com',
    GIT_COMMITTER_NAME: 'Unit Test',
    GIT_COMMITTER_EMAIL: 'unit@example.com',
    ...extra,
  };
}
