import type { FileCopy, ID } from '@portlayer/contracts'
import type { Backend } from './backend.js'
import { wrap } from './errors.js'
import type { PendingFileRecord } from './extra-config.js'
import type { GuestFile } from './guest.js'
import {
  datastoreUrl,
  fromBase64,
  lastCopyPerPath,
  placeFiles,
  stagingPath,
  toBase64,
} from './pending-files.js'

/** Keeps files for the next start: small ones inline, bigger ones uploaded to the datastore first. */
export async function persistFiles(
  b: Backend,
  id: ID,
  existing: readonly PendingFileRecord[],
  added: readonly FileCopy[],
): Promise<{ records: PendingFileRecord[]; staged: string[]; superseded: string[] }> {
  const { factory, gateway } = b.c()
  const placements = placeFiles(existing, added, () => factory.newId())
  const staged: string[] = []
  const addedRecords: PendingFileRecord[] = []
  try {
    for (const [i, file] of added.entries()) {
      const placement = placements[i]
      const base = { dir: file.targetDir, name: file.fname, perms: file.perms, size: file.data.byteLength }
      if (!placement || placement.inline) {
        addedRecords.push({ ...base, data: toBase64(file.data) })
        continue
      }
      const path = stagingPath(id, placement.key)
      await gateway.transfer({
        method: 'PUT',
        url: datastoreUrl(b.settings.datacenter, b.settings.datastore, path),
        body: file.data,
      })
      staged.push(path)
      addedRecords.push({ ...base, datastore: b.settings.datastore, path })
    }
  } catch (e) {
    deleteStaged(b, staged)
    throw wrap(e, `staging files of container ${id} on datastore ${b.settings.datastore}`, id)
  }
  const records = lastCopyPerPath([...existing, ...addedRecords])
  const kept = new Set(records.flatMap((r) => ('path' in r ? [r.path] : [])))
  const superseded = existing.flatMap((r) => ('path' in r && !kept.has(r.path) ? [r.path] : []))
  return { records, staged, superseded }
}

/** The bytes of recorded pending files (staged ones fetched from the datastore). */
export async function materialise(b: Backend, files: readonly PendingFileRecord[]): Promise<GuestFile[]> {
  const { gateway } = b.c()
  const out: GuestFile[] = []
  for (const f of files) {
    const data =
      'data' in f
        ? fromBase64(f.data)
        : (
            await gateway.transfer({
              method: 'GET',
              url: datastoreUrl(b.settings.datacenter, f.datastore, f.path),
            })
          ).body
    out.push({ dir: f.dir, name: f.name, perms: f.perms, data })
  }
  return out
}

/** Best-effort removal of staged datastore files no record refers to any more. */
export function deleteStaged(b: Backend, paths: readonly string[]): void {
  if (paths.length === 0 || !b.connection) return
  const { gateway } = b.connection
  for (const path of paths) {
    gateway
      .transfer({
        method: 'DELETE',
        url: datastoreUrl(b.settings.datacenter, b.settings.datastore, path),
      })
      .catch((e) => b.settings.onBackgroundError(e))
  }
}
