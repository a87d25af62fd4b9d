/** Pack base names (`pack-<sha>`) as listed in `objects/info/packs`, the dumb-HTTP pack index. */
export function parsePacksList(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^P (pack-[0-9a-f]{40,64})\.pack$/.exec(line.trim());
    if (match?.[1] !== undefined) names.push(match[1]);
  }
  return names;
}

export function formatPacksList(names: readonly string[]): string {
  return names.map((name) => `P ${name}.pack\n`).join('') + '\n';
}
