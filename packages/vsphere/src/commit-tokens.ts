// Every commit writes a fresh token into `guestinfo.portlayer.rev`, which keeps the last
// REV_HISTORY tokens (oldest first). A commit whose answer was lost reads the VM again and finds
// out exactly whether it landed, also after other clients committed on top of it: a commit is
// guarded by the version it read, so if it landed it sits right after the token it read.

/** How many commit tokens a container remembers. */
export const REV_HISTORY = 16

/** A new commit token: 48 random bits in hex (short, because every listing reads the history). */
export function newToken(): string {
  const bytes = new Uint8Array(6)
  globalThis.crypto.getRandomValues(bytes)
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

/** The tokens of a `rev` value, oldest first. */
export function parseRevs(value: string | undefined): string[] {
  if (value === undefined) return []
  return value.split(' ').filter((t) => t.length > 0)
}

/** The `rev` value after a commit with `token` on top of `revs`. */
export function appendRev(revs: readonly string[], token: string): string {
  return [...revs, token].slice(-REV_HISTORY).join(' ')
}

/**
 * Whether the commit with `token`, made on top of the state whose last token was `parent`, landed,
 * judged from the tokens read afterwards: `unknown` only when so many commits came since that
 * both tokens fell out of the history.
 */
export function commitLanded(
  revs: readonly string[],
  parent: string | null,
  token: string,
): 'landed' | 'not-landed' | 'unknown' {
  if (revs.includes(token)) return 'landed'
  if (parent === null) return revs.length < REV_HISTORY ? 'not-landed' : 'unknown'
  const at = revs.indexOf(parent)
  // The parent is still there: whatever follows it (or nothing) is not this commit.
  if (at >= 0) return 'not-landed'
  return revs.length < REV_HISTORY ? 'not-landed' : 'unknown'
}
