import type { FileCopy, ID } from '@portlayer/contracts'
import type { PendingFileRecord } from './extra-config.js'
import { guestPath } from './guest.js'

/**
 * Files up to this size are kept inline in extraConfig until the next start; bigger ones go to
 * the datastore. extraConfig is read by every listing, so it must stay small.
 */
export const INLINE_FILE_MAX_BYTES = 4096
/** Inline pending files of one container never add up to more than this. */
export const INLINE_TOTAL_MAX_BYTES = 16384
/** Datastore folder (at the datastore root) where bigger pending files wait, one folder per container. */
export const STAGING_FOLDER = 'portlayer-files'

/** The datastore path of a staged file. */
export function stagingPath(containerId: ID, key: string): string {
  return `${STAGING_FOLDER}/${containerId}/${key}`
}

/** The `/folder` URL of a datastore file, resolved by the gateway against its endpoint. */
export function datastoreUrl(datacenterPath: string, datastore: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/')
  return `/folder/${encodedPath}?dcPath=${encodeURIComponent(datacenterPath)}&dsName=${encodeURIComponent(datastore)}`
}

/** The guest path a file goes to, for pending records and guest files (`dir`/`name`) and handle copies. */
function pathOf(f: { readonly dir: string; readonly name: string } | FileCopy): string {
  return 'targetDir' in f ? guestPath(f.targetDir, f.fname) : guestPath(f.dir, f.name)
}

/** `files` with later copies to the same path replacing earlier ones, in order of their last copy. */
export function lastCopyPerPath<T extends { readonly dir: string; readonly name: string } | FileCopy>(
  files: readonly T[],
): T[] {
  const byPath = new Map<string, T>()
  for (const f of files) {
    const path = pathOf(f)
    byPath.delete(path)
    byPath.set(path, f)
  }
  return [...byPath.values()]
}

/** How a new pending file will be kept: inline, or staged on the datastore under `key`. */
export type FilePlacement = { readonly inline: true } | { readonly inline: false; readonly key: string }

/**
 * Decides, for the files a commit adds to a container that is not running, which stay inline and
 * which are staged, given the inline files already pending.
 */
export function placeFiles(
  existing: readonly PendingFileRecord[],
  added: readonly FileCopy[],
  newKey: () => string,
): FilePlacement[] {
  const addedPaths = new Set(added.map((f) => guestPath(f.targetDir, f.fname)))
  let inlineBytes = 0
  for (const f of existing) {
    if ('data' in f && !addedPaths.has(guestPath(f.dir, f.name))) inlineBytes += f.size
  }
  return added.map((f) => {
    const size = f.data.byteLength
    if (size <= INLINE_FILE_MAX_BYTES && inlineBytes + size <= INLINE_TOTAL_MAX_BYTES) {
      inlineBytes += size
      return { inline: true }
    }
    return { inline: false, key: newKey() }
  })
}

/** The base64 text of `data`. */
export function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64')
}

/** The bytes of base64 `text`. */
export function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'))
}
