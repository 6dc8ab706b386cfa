import type { FileCopy, ID } from '@portlayer/contracts'
import type { OptionValue } from '@portlayer/contracts/vmomi'
import type { PlanStep } from './commit-plan.js'
import type { VsphereContext } from './context.js'
import { wrap } from './errors.js'
import { encodeFiles, Key, option, type PendingFileRecord } from './extra-config.js'
import type { GuestFile } from './guest.js'
import {
  datastoreUrl,
  fromBase64,
  lastCopyPerPath,
  placeFiles,
  stagingPath,
  toBase64,
} from './pending-file-rules.js'

/** Keeps files for the next start: small ones inline, bigger ones uploaded to the datastore first. */
export async function persistFiles(
  ctx: VsphereContext,
  id: ID,
  existing: readonly PendingFileRecord[],
  added: readonly FileCopy[],
): Promise<{ records: PendingFileRecord[]; staged: string[]; superseded: string[] }> {
  const { factory, gateway } = ctx
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
        url: datastoreUrl(ctx.settings.datacenter, ctx.settings.datastore, path),
        body: file.data,
      })
      staged.push(path)
      addedRecords.push({ ...base, datastore: ctx.settings.datastore, path })
    }
  } catch (e) {
    deleteStaged(ctx, staged)
    throw wrap(e, `staging files of container ${id} on datastore ${ctx.settings.datastore}`, id)
  }
  const records = lastCopyPerPath([...existing, ...addedRecords])
  const kept = new Set(records.flatMap((r) => ('path' in r ? [r.path] : [])))
  const superseded = existing.flatMap((r) => ('path' in r && !kept.has(r.path) ? [r.path] : []))
  return { records, staged, superseded }
}

/** The bytes of recorded pending files (staged ones fetched from the datastore). */
export async function materialise(
  ctx: VsphereContext,
  files: readonly PendingFileRecord[],
): Promise<GuestFile[]> {
  const { gateway } = ctx
  const out: GuestFile[] = []
  for (const f of files) {
    const data =
      'data' in f
        ? fromBase64(f.data)
        : (
            await gateway.transfer({
              method: 'GET',
              url: datastoreUrl(ctx.settings.datacenter, f.datastore, f.path),
            })
          ).body
    out.push({ dir: f.dir, name: f.name, perms: f.perms, data })
  }
  return out
}

/** Best-effort removal of staged datastore files no record refers to any more. */
export function deleteStaged(ctx: VsphereContext, paths: readonly string[]): void {
  if (paths.length === 0) return
  const { gateway } = ctx
  for (const path of paths) {
    gateway
      .transfer({
        method: 'DELETE',
        url: datastoreUrl(ctx.settings.datacenter, ctx.settings.datastore, path),
      })
      .catch((e) => ctx.settings.onBackgroundError(e))
  }
}

/**
 * The commit step that keeps `added` for the next start beside the files already waiting
 * (`existing`): it uploads the big ones, adds the files' record to the commit's `options`, and is
 * undone by deleting what it uploaded. `superseded()` names the staged files the record no longer
 * refers to, to delete once the commit landed.
 */
export function stagingStep(
  ctx: VsphereContext,
  id: ID,
  existing: readonly PendingFileRecord[],
  added: readonly FileCopy[],
  options: OptionValue[],
): PlanStep & { superseded(): readonly string[] } {
  let staged: string[] = []
  let superseded: string[] = []
  return {
    name: `staging the files of container ${id}`,
    run: async () => {
      const persisted = await persistFiles(ctx, id, existing, added)
      staged = persisted.staged
      superseded = persisted.superseded
      options.push(option(Key.files, encodeFiles(persisted.records)))
      return undefined
    },
    undo: async () => {
      deleteStaged(ctx, staged)
      return true
    },
    superseded: () => superseded,
  }
}
