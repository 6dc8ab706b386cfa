import { startVcsim, type Vcsim } from '@portlayer/vcsim'
import { createSoapGateway } from '@portlayer/vmomi-soap'
import { createVsphere } from '@portlayer/vsphere'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { runQuickstart } from '../src/quickstart.js'

let vc: Vcsim
beforeAll(async () => {
  vc = await startVcsim({ tls: true })
}, 180_000)
afterAll(() => vc?.stop())

it('runs the same lifecycle on vSphere (vcsim harness, pinned TLS)', async () => {
  const gateway = await createSoapGateway({
    url: vc.url,
    username: vc.username,
    password: vc.password,
    tls: { thumbprint: vc.thumbprint },
  })
  const pl = await createVsphere({
    gateway,
    datacenter: 'DC0',
    vmFolder: 'DC0/vm',
    resourcePool: 'DC0/host/DC0_C0/Resources',
    datastore: 'LocalDS_0',
    guest: vc.guest,
  })
  const lines: string[] = []
  try {
    const id = await runQuickstart(pl, (l) => lines.push(l))
    const out = lines.join('\n')
    expect(out).toMatch(/exited with code 0/)
    expect(out).toContain('/tmp/config.copy: {"port":8080}')
    expect(out).toContain('stdout: {"port":8080}')
    expect(out).toContain('stderr: cat: missing.json: No such file or directory')
    expect(out).toMatch(/refused: CONFLICT/)
    expect(out).toMatch(/main: \/usr\/local\/bin\/web-server .*: exited with code 143/)
    expect(await pl.listContainers()).not.toContain(id)
  } finally {
    await pl.close()
    await gateway.close()
  }
}, 60_000)
