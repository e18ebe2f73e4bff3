// The official JavaScript client (@kubernetes/client-node, from npm)
// against peerop-devcluster: CRUD, merge and JSON patches, paging,
// watches and an informer, a CRD with status, Leases, and a ServiceAccount
// token meeting RBAC. Usage: node devcluster_js_test.mjs KUBECONFIG CRD_YAML
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';

const [kubeconfig, crdFile] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const ns = 'default';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function poll(pred, what, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error('timed out waiting for ' + what);
}
async function status(p) {
  try { await p; return 200; } catch (e) { return e.code; }
}
const tests = [];
const test = (name, fn) => tests.push([name, fn]);

test('crud and patches', async () => {
  const c = await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'js-crud' }, data: { k: 'v' } } });
  assert.ok(c.metadata.uid);
  const got = await core.readNamespacedConfigMap({ name: 'js-crud', namespace: ns });
  assert.deepEqual(got.data, { k: 'v' });
  const merged = await core.patchNamespacedConfigMap({ name: 'js-crud', namespace: ns, body: { data: { k2: 'v2' } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  assert.equal(merged.data.k2, 'v2');
  const jp = await core.patchNamespacedConfigMap({ name: 'js-crud', namespace: ns, body: [{ op: 'remove', path: '/data/k' }] },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch));
  assert.equal(jp.data.k, undefined);
  const ssa = await core.patchNamespacedConfigMap({ name: 'js-crud', namespace: ns, fieldManager: 'js-test',
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'js-crud' }, data: { s: 'a' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply));
  assert.equal(ssa.data.s, 'a');
  assert.ok(ssa.metadata.managedFields.some((m) => m.manager === 'js-test' && m.operation === 'Apply'));
  await core.deleteNamespacedConfigMap({ name: 'js-crud', namespace: ns });
  assert.equal(await status(core.readNamespacedConfigMap({ name: 'js-crud', namespace: ns })), 404);
});

test('paging', async () => {
  for (let i = 0; i < 5; i++)
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'js-page-' + i, labels: { jspage: 'y' } } } });
  let names = [], cont;
  do {
    const l = await core.listNamespacedConfigMap({ namespace: ns, labelSelector: 'jspage=y', limit: 2, _continue: cont });
    assert.ok(l.items.length <= 2);
    names = names.concat(l.items.map((i) => i.metadata.name));
    cont = l.metadata._continue;
  } while (cont);
  assert.deepEqual(names.sort(), [0, 1, 2, 3, 4].map((i) => 'js-page-' + i));
});

test('watch', async () => {
  const seen = [];
  const w = new k8s.Watch(kc);
  const req = await w.watch(`/api/v1/namespaces/${ns}/configmaps`, { labelSelector: 'jsw=y' },
    (type, obj) => seen.push(type + ' ' + obj.metadata.name), () => {});
  await sleep(300);
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'js-w', labels: { jsw: 'y' } } } });
  await core.deleteNamespacedConfigMap({ name: 'js-w', namespace: ns });
  await poll(() => seen.includes('DELETED js-w'), 'the DELETED event');
  assert.deepEqual(seen, ['ADDED js-w', 'DELETED js-w']);
  req.abort();
});

test('informer', async () => {
  const inf = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`,
    () => core.listNamespacedConfigMap({ namespace: ns }));
  const events = [];
  inf.on('add', (o) => events.push('add ' + o.metadata.name));
  inf.on('update', (o) => events.push('update ' + o.metadata.name));
  inf.on('delete', (o) => events.push('delete ' + o.metadata.name));
  inf.on('error', () => {});
  await inf.start();
  await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'js-inf' } } });
  await core.patchNamespacedConfigMap({ name: 'js-inf', namespace: ns, body: { data: { a: 'b' } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  await core.deleteNamespacedConfigMap({ name: 'js-inf', namespace: ns });
  await poll(() => events.includes('delete js-inf'), 'the informer to see the delete');
  assert.deepEqual(events.filter((e) => e.endsWith(' js-inf')), ['add js-inf', 'update js-inf', 'delete js-inf']);
  assert.ok(inf.list(ns).every((o) => o.metadata.name !== 'js-inf'));
  await inf.stop();
});

test('custom resources with status', async () => {
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const crd = k8s.loadYaml(readFileSync(crdFile, 'utf8'));
  try { await ext.createCustomResourceDefinition({ body: crd }); } catch (e) { if (e.code !== 409) throw e; }
  const co = kc.makeApiClient(k8s.CustomObjectsApi);
  const args = { group: 'peerop.io', version: 'v1alpha1', namespace: ns, plural: 'httpservers' };
  await poll(async () => (await status(co.listNamespacedCustomObject(args))) === 200, 'the CRD to be served');
  await co.createNamespacedCustomObject({ ...args, body: { apiVersion: 'peerop.io/v1alpha1', kind: 'HTTPServer',
    metadata: { name: 'js-hs' }, spec: { replicas: 2, port: 8080 } } });
  const st = await co.patchNamespacedCustomObjectStatus({ ...args, name: 'js-hs', body: { status: { readyReplicas: 2 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
  assert.equal(st.status.readyReplicas, 2);
  assert.equal(await status(co.patchNamespacedCustomObject({ ...args, name: 'js-hs', body: { spec: { replicas: -1 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))), 422);
});

test('leases', async () => {
  const co = kc.makeApiClient(k8s.CoordinationV1Api);
  const l = await co.createNamespacedLease({ namespace: ns, body: { metadata: { name: 'js-lease' },
    spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
  l.spec.holderIdentity = 'b';
  const r = await co.replaceNamespacedLease({ name: 'js-lease', namespace: ns, body: l });
  assert.equal(r.spec.holderIdentity, 'b');
  l.spec.holderIdentity = 'c';
  assert.equal(await status(co.replaceNamespacedLease({ name: 'js-lease', namespace: ns, body: l })), 409);
});

test('a ServiceAccount token meets RBAC', async () => {
  await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'js-bot' } } });
  const tr = await core.createNamespacedServiceAccountToken({ name: 'js-bot', namespace: ns,
    body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const bkc = new k8s.KubeConfig();
  bkc.loadFromOptions({ clusters: kc.clusters, contexts: [{ name: 'bot', cluster: kc.clusters[0].name, user: 'bot' }],
    users: [{ name: 'bot', token: tr.status.token }], currentContext: 'bot' });
  const bot = bkc.makeApiClient(k8s.CoreV1Api);
  try {
    await bot.listNamespacedPod({ namespace: ns });
    assert.fail('listed pods without a role');
  } catch (e) {
    assert.equal(e.code, 403);
    assert.match(String(e.body), /User \\?"system:serviceaccount:default:js-bot\\?" cannot list resource \\?"pods\\?"/);
  }
});

let failed = 0;
for (const [name, fn] of tests) {
  try {
    await fn();
    console.log('ok   ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL ' + name + ': ' + (e.stack || e));
  }
}
console.log(`${tests.length - failed}/${tests.length} passed`);
process.exit(failed ? 1 : 0);
