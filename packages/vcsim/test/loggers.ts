import type { Logger } from '@portlayer/contracts'

/** Drops everything. */
export const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

/** A logger that keeps what it is told, by level. */
export function recorder(): { logger: Logger; lines: { level: keyof Logger; message: string }[] } {
  const lines: { level: keyof Logger; message: string }[] = []
  const at = (level: keyof Logger) => (message: string) => {
    lines.push({ level, message })
  }
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines }
}
