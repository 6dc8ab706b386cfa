import {
  type CommitExtension,
  ConcurrentModificationError,
  type ExtensibleBackend,
  type Handle,
  type HandleFactory,
  type ID,
  InvalidArgumentError,
  InvalidStateError,
  type PortLayer,
} from '@portlayer/contracts'
import { formatIpv4, hostRange, parseIpv4 } from './ipv4.js'

/** The slot this package owns in every handle. */
export const NET_NAMESPACE = 'net'

/** What a handle asks for: attach (optionally at a fixed address) or detach. */
export type NetRequest = { readonly op: 'attach'; readonly address?: string } | { readonly op: 'detach' }

/** What a container holds once a commit applied a request. */
export interface NetAttachment {
  readonly network: string
  readonly address: string
  readonly gateway: string
}

export interface NetExtensionOptions {
  /** The handle factory of the backend this extension is registered with. */
  readonly factory: HandleFactory
  /** Name of the network, recorded on every attachment. */
  readonly network: string
  /** The address pool, e.g. `10.0.0.0/24`; the first host is the gateway. */
  readonly cidr: string
}

/**
 * A network package: `attach(h)` puts an address request into the handle, and the backend's
 * commit applies it together with everything else in the handle — or rejects it whole.
 */
export class NetExtension {
  readonly extension: CommitExtension<NetRequest, NetAttachment | null>
  readonly network: string
  private readonly factory: HandleFactory
  private readonly range: ReturnType<typeof hostRange>
  // address → container; a reservation made by prepare is here too, until commit or rollback.
  private readonly owners = new Map<number, ID>()

  constructor(options: NetExtensionOptions) {
    this.factory = options.factory
    this.network = options.network
    this.range = hostRange(options.cidr)
    this.extension = {
      namespace: NET_NAMESPACE,
      prepare: (ctx) => {
        const current = ctx.applied ?? null
        if (ctx.pending.op === 'detach') {
          return {
            applied: null,
            reconfigure: { extraConfig: { 'guestinfo.net.address': '' } },
            commit: () => {
              if (current) this.owners.delete(parseIpv4(current.address))
            },
          }
        }
        const wanted = ctx.pending.address === undefined ? undefined : parseIpv4(ctx.pending.address)
        if (current && (wanted === undefined || wanted === parseIpv4(current.address))) {
          return { applied: current }
        }
        const address = this.reserve(ctx.containerId, wanted)
        const attachment: NetAttachment = {
          network: this.network,
          address: formatIpv4(address),
          gateway: formatIpv4(this.range.gateway),
        }
        return {
          applied: attachment,
          reconfigure: { extraConfig: { 'guestinfo.net.address': attachment.address } },
          commit: () => {
            if (current) this.owners.delete(parseIpv4(current.address))
          },
          rollback: () => this.owners.delete(address),
        }
      },
      release: ({ applied }) => {
        if (applied) this.owners.delete(parseIpv4(applied.address))
      },
    }
  }

  /** A new handle that attaches the container, at `address` when given, else the next free one. */
  attach(handle: Handle, address?: string): Handle {
    if (address !== undefined) {
      const n = parseIpv4(address)
      if (n < this.range.first || n > this.range.last) {
        throw new InvalidArgumentError(`${address} is not a host address of network ${this.network}`)
      }
    }
    const request: NetRequest = address === undefined ? { op: 'attach' } : { op: 'attach', address }
    return this.factory.withExtension(handle, NET_NAMESPACE, request)
  }

  /** A new handle that detaches the container and frees its address. */
  detach(handle: Handle): Handle {
    return this.factory.withExtension(handle, NET_NAMESPACE, { op: 'detach' } satisfies NetRequest)
  }

  /** Addresses in use or reserved, with their containers. */
  allocations(): ReadonlyMap<string, ID> {
    return new Map([...this.owners].map(([a, id]) => [formatIpv4(a), id]))
  }

  /**
   * Learns the addresses containers already hold, e.g. after a restart against a backend that
   * kept them (vSphere keeps them in extraConfig).
   */
  async adopt(backend: PortLayer & ExtensibleBackend): Promise<void> {
    for (const id of await backend.listContainers()) {
      const attachment = await backend.getExtensionState<NetAttachment | null>(id, NET_NAMESPACE)
      if (attachment && attachment.network === this.network)
        this.owners.set(parseIpv4(attachment.address), id)
    }
  }

  private reserve(containerId: ID, wanted: number | undefined): number {
    if (wanted !== undefined) {
      if (wanted < this.range.first || wanted > this.range.last) {
        throw new InvalidArgumentError(
          `${formatIpv4(wanted)} is not a host address of network ${this.network}`,
        )
      }
      const owner = this.owners.get(wanted)
      if (owner !== undefined && owner !== containerId) {
        throw new ConcurrentModificationError(
          `address ${formatIpv4(wanted)} on network ${this.network} is held by container ${owner}`,
          { target: containerId },
        )
      }
      this.owners.set(wanted, containerId)
      return wanted
    }
    for (let a = this.range.first; a <= this.range.last; a++) {
      if (!this.owners.has(a)) {
        this.owners.set(a, containerId)
        return a
      }
    }
    throw new InvalidStateError(`network ${this.network} has no free address for container ${containerId}`, {
      target: containerId,
    })
  }
}
