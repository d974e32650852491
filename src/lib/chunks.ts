// SQL `in (...)` lists and Redis pipelines are sent in bounded slices, so that a large batch (a
// recheck of every open socket's session) never becomes one huge statement.
export const CHUNK = 500;

export function chunks<T>(xs: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}
