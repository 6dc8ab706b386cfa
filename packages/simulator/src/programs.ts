import { validateAbsolutePath } from '@portlayer/contracts'
import { BACKEND, invalidArgument } from './errors.js'
import type { ProgramDefinition, SimProgram } from './program-context.js'

/**
 * Programs the simulator runs beside the built-ins, by absolute path. A registered program exists
 * in every container (like a program of the guest image) and takes precedence over a built-in or
 * an executable file at the same path.
 */
export interface ProgramRegistry {
  /**
   * Adds a program; returns a function that removes it. Processes already running keep running.
   * @throws InvalidArgumentError for a malformed path or program, or a path already registered.
   */
  register(path: string, program: SimProgram): () => void
  /** Removes the program at `path`; false when none was registered. */
  unregister(path: string): boolean
  /**
   * True when a program is registered at `path` (built-ins and files do not count).
   * @throws InvalidArgumentError unless `path` is an absolute path.
   */
  has(path: string): boolean
  /** Registered paths, sorted. */
  list(): string[]
}

export function toDefinition(program: SimProgram, path: string): ProgramDefinition {
  if (typeof program === 'function') return { run: program }
  if (typeof program !== 'object' || program === null || typeof program.run !== 'function') {
    throw invalidArgument(`program for ${path} must be a function or an object with a run function`)
  }
  if (program.onSignal !== undefined && typeof program.onSignal !== 'function') {
    throw invalidArgument(`onSignal of the program for ${path} must be a function`)
  }
  return program
}

export class Programs implements ProgramRegistry {
  readonly map = new Map<string, ProgramDefinition>()

  register(path: string, program: SimProgram): () => void {
    const p = validateAbsolutePath(path, 'program path', BACKEND)
    const def = toDefinition(program, p)
    if (this.map.has(p)) throw invalidArgument(`a program is already registered at ${p}`)
    this.map.set(p, def)
    return () => {
      if (this.map.get(p) === def) this.map.delete(p)
    }
  }

  unregister(path: string): boolean {
    return this.map.delete(validateAbsolutePath(path, 'program path', BACKEND))
  }

  has(path: string): boolean {
    return this.map.has(validateAbsolutePath(path, 'program path', BACKEND))
  }

  list(): string[] {
    return [...this.map.keys()].sort()
  }
}
