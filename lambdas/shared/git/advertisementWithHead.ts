import { decodePktLines, encodeFlush, encodePktLine } from './pktLine.ts';

/**
 * A protocol-v1 ref advertisement with a `HEAD` line added after the first ref. A primary whose
 * HEAD names a branch that does not exist advertises no HEAD, and isomorphic-git's fetch then
 * fails ("Could not find HEAD") after receiving the pack; any object id will do, the wants
 * decide what is fetched. An advertisement that has HEAD, or no refs, comes back unchanged.
 */
export function advertisementWithHead(advertisement: Buffer): Buffer {
  const lines = decodePktLines(advertisement);
  const isRef = (line: Buffer | null): line is Buffer => line !== null && /^[0-9a-f]{40,64} /.test(line.toString('latin1', 0, 65));
  const refs = lines.filter(isRef);
  const first = refs[0];
  if (first === undefined || refs.some((line) => line.toString('latin1').split(/[ \0\n]/)[1] === 'HEAD')) return advertisement;
  const oid = first.toString('latin1').split(' ')[0]!;
  const at = lines.indexOf(first) + 1;
  const patched = [...lines.slice(0, at), Buffer.from(`${oid} HEAD\n`), ...lines.slice(at)];
  return Buffer.concat(patched.map((line) => (line === null ? encodeFlush() : encodePktLine(line))));
}
