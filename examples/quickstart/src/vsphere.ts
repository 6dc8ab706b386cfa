import { readFileSync } from 'node:fs'
import { startVcsim, type Vcsim } from '@portlayer/vcsim'
import { createSoapGateway, type SoapGatewaySettings } from '@portlayer/vmomi-soap'
import { createVsphere, type VsphereSettings } from '@portlayer/vsphere'
import { runQuickstart } from './quickstart.js'

// The same quickstart on vSphere: on your vCenter when PORTLAYER_VSPHERE_URL is set, otherwise
// on a vcsim harness started here (over HTTPS, its certificate pinned by thumbprint).

interface Target {
  gateway: SoapGatewaySettings
  backend: VsphereSettings
  label: string
}

function env(name: string, fallback?: string): string {
  const value = process.env[name] ?? fallback
  if (value === undefined || value === '') throw new Error(`set ${name} (see examples/quickstart/README.md)`)
  return value
}

function fromEnvironment(url: string): Target {
  const insecure = process.env.PORTLAYER_VSPHERE_INSECURE === '1'
  const caFile = process.env.PORTLAYER_VSPHERE_CA_FILE
  const thumbprint = process.env.PORTLAYER_VSPHERE_THUMBPRINT
  return {
    label: `vCenter at ${new URL(url).host}`,
    gateway: {
      url,
      username: env('PORTLAYER_VSPHERE_USER'),
      password: env('PORTLAYER_VSPHERE_PASSWORD'),
      tls: insecure ? { insecure } : { ca: caFile ? readFileSync(caFile) : undefined, thumbprint },
    },
    backend: {
      datacenter: env('PORTLAYER_VSPHERE_DATACENTER'),
      vmFolder: env('PORTLAYER_VSPHERE_VM_FOLDER'),
      resourcePool: env('PORTLAYER_VSPHERE_RESOURCE_POOL'),
      datastore: env('PORTLAYER_VSPHERE_DATASTORE'),
      template: process.env.PORTLAYER_VSPHERE_TEMPLATE || undefined,
      guest: { username: env('PORTLAYER_GUEST_USER', 'root'), password: env('PORTLAYER_GUEST_PASSWORD') },
    },
  }
}

function fromHarness(vc: Vcsim): Target {
  return {
    label: `vcsim harness at ${vc.url}`,
    gateway: {
      url: vc.url,
      username: vc.username,
      password: vc.password,
      tls: { thumbprint: vc.thumbprint },
    },
    backend: {
      datacenter: 'DC0',
      vmFolder: 'DC0/vm',
      resourcePool: 'DC0/host/DC0_C0/Resources',
      datastore: 'LocalDS_0',
      guest: vc.guest,
    },
  }
}

const url = process.env.PORTLAYER_VSPHERE_URL
let vc: Vcsim | undefined
try {
  if (!url) {
    console.log('starting the vcsim harness (the first run builds it: ~30 s)…')
    vc = await startVcsim({ tls: true })
  }
  const target = url ? fromEnvironment(url) : fromHarness(vc as Vcsim)
  console.log(`portlayer quickstart on vSphere: ${target.label}\n`)
  const gateway = await createSoapGateway(target.gateway)
  const portLayer = await createVsphere({ gateway, ...target.backend })
  try {
    await runQuickstart(portLayer)
  } finally {
    await portLayer.close()
    await gateway.close()
  }
} finally {
  await vc?.stop()
}
