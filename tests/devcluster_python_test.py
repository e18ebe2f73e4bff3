"""The official Python client (Debian's python3-kubernetes) against
peerop-devcluster, as a new user would drive it: CRUD, patches (merge,
strategic, JSON), server-side apply, watches, paging, Secrets' stringData,
CRDs with status and scale, garbage collection policies, finalizers,
Events, Leases, ServiceAccount tokens and RBAC denials.

Usage: devcluster_python_test.py KUBECONFIG CRD_YAML
"""
import base64
import datetime
import json
import sys
import threading
import time
import unittest

import yaml
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

KUBECONFIG, CRD_FILE = sys.argv[1], sys.argv[2]
NS = "default"


def poll(pred, seconds=60, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


def cm(name, labels=None, data=None):
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or {})


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = config.new_client_from_config(config_file=KUBECONFIG)
        cls.core = client.CoreV1Api(cls.api)
        cls.apps = client.AppsV1Api(cls.api)


class Crud(Base):
    def test_configmap_crud_and_patches(self):
        c = self.core.create_namespaced_config_map(NS, cm("py-crud", {"a": "1"}, {"k": "v"}))
        self.assertTrue(c.metadata.uid)
        got = self.core.read_namespaced_config_map("py-crud", NS)
        self.assertEqual(got.data, {"k": "v"})
        got.data["k2"] = "v2"
        rep = self.core.replace_namespaced_config_map("py-crud", NS, got)
        self.assertNotEqual(rep.metadata.resource_version, c.metadata.resource_version)
        # a stale resourceVersion is a 409
        got.metadata.resource_version = c.metadata.resource_version
        with self.assertRaises(ApiException) as e:
            self.core.replace_namespaced_config_map("py-crud", NS, got)
        self.assertEqual(e.exception.status, 409)
        # the client's default patch type for a dict is strategic merge
        p = self.core.patch_namespaced_config_map("py-crud", NS, {"data": {"k3": "v3"}})
        self.assertEqual(p.data["k3"], "v3")
        # JSON patch
        p = self.core.patch_namespaced_config_map("py-crud", NS, [{"op": "remove", "path": "/data/k"}])
        self.assertNotIn("k", p.data)
        self.core.delete_namespaced_config_map("py-crud", NS)
        with self.assertRaises(ApiException) as e:
            self.core.read_namespaced_config_map("py-crud", NS)
        self.assertEqual(e.exception.status, 404)

    def test_secret_string_data(self):
        s = client.V1Secret(metadata=client.V1ObjectMeta(name="py-secret"), string_data={"password": "hunter2"})
        out = self.core.create_namespaced_secret(NS, s)
        self.assertIsNone(out.string_data)
        self.assertEqual(base64.b64decode(out.data["password"]), b"hunter2")

    def test_pod_defaults(self):
        pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py-pod"),
                           spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="nginx")]))
        out = self.core.create_namespaced_pod(NS, pod)
        c = out.spec.containers[0]
        self.assertEqual(c.image_pull_policy, "Always")
        self.assertEqual(c.termination_message_path, "/dev/termination-log")
        self.assertEqual(out.spec.restart_policy, "Always")
        self.assertEqual(out.spec.dns_policy, "ClusterFirst")
        self.assertEqual(out.spec.scheduler_name, "default-scheduler")
        self.assertEqual(out.spec.service_account_name, "default")

    def test_paging(self):
        for i in range(7):
            self.core.create_namespaced_config_map(NS, cm("py-page-%d" % i, {"page": "yes"}))
        names, cont = [], None
        while True:
            lst = self.core.list_namespaced_config_map(NS, label_selector="page=yes", limit=3, _continue=cont)
            self.assertLessEqual(len(lst.items), 3)
            names += [i.metadata.name for i in lst.items]
            cont = lst.metadata._continue
            if not cont:
                break
        self.assertEqual(sorted(names), ["py-page-%d" % i for i in range(7)])

    def test_server_side_apply(self):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "py-ssa"}, "data": {"a": "1"}}
        out = self.api.call_api(
            "/api/v1/namespaces/{ns}/configmaps/py-ssa", "PATCH", path_params={"ns": NS},
            query_params=[("fieldManager", "py-test")], body=json.dumps(body),
            header_params={"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"},
            response_type="V1ConfigMap", auth_settings=["BearerToken"], _return_http_data_only=True)
        self.assertEqual(out.data, {"a": "1"})
        self.assertEqual(out.metadata.managed_fields[0].manager, "py-test")
        self.assertEqual(out.metadata.managed_fields[0].operation, "Apply")


class Watches(Base):
    def test_watch_stream(self):
        # watch=True is what this client sends: it must be a watch, not a list
        events = []
        w = watch.Watch()

        def run():
            for ev in w.stream(self.core.list_namespaced_config_map, NS, label_selector="w=py",
                               timeout_seconds=30):
                events.append((ev["type"], ev["object"].metadata.name))
                if ev["type"] == "DELETED":
                    w.stop()

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)
        self.core.create_namespaced_config_map(NS, cm("py-w", {"w": "py"}))
        self.core.patch_namespaced_config_map("py-w", NS, {"data": {"x": "y"}})
        self.core.delete_namespaced_config_map("py-w", NS)
        t.join(40)
        self.assertFalse(t.is_alive())
        self.assertEqual([e[0] for e in events if e[1] == "py-w"], ["ADDED", "MODIFIED", "DELETED"])

    def test_watch_from_resource_version(self):
        lst = self.core.list_namespaced_config_map(NS)
        self.core.create_namespaced_config_map(NS, cm("py-rv", {"rv": "py"}))
        w = watch.Watch()
        got = []
        for ev in w.stream(self.core.list_namespaced_config_map, NS, resource_version=lst.metadata.resource_version,
                           timeout_seconds=10):
            got.append(ev["object"].metadata.name)
            if "py-rv" in got:
                w.stop()
        self.assertIn("py-rv", got)


class Crds(Base):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ext = client.ApiextensionsV1Api(cls.api)
        with open(CRD_FILE) as f:
            crd = yaml.safe_load(f)
        try:
            ext.create_custom_resource_definition(crd)
        except ApiException as e:
            if e.status != 409:
                raise
        cls.co = client.CustomObjectsApi(cls.api)
        poll(lambda: cls._served(), 30, "the CRD to be served")

    @classmethod
    def _served(cls):
        try:
            cls.co.list_namespaced_custom_object("peerop.io", "v1alpha1", NS, "httpservers")
            return True
        except ApiException:
            return False

    def test_custom_resource_status_and_scale(self):
        body = {"apiVersion": "peerop.io/v1alpha1", "kind": "HTTPServer", "metadata": {"name": "py-hs"},
                "spec": {"replicas": 2, "port": 8080}}
        out = self.co.create_namespaced_custom_object("peerop.io", "v1alpha1", NS, "httpservers", body)
        self.assertEqual(out["spec"]["replicas"], 2)
        st = self.co.patch_namespaced_custom_object_status("peerop.io", "v1alpha1", NS, "httpservers", "py-hs",
                                                           {"status": {"readyReplicas": 1}})
        self.assertEqual(st["status"]["readyReplicas"], 1)
        sc = self.co.get_namespaced_custom_object_scale("peerop.io", "v1alpha1", NS, "httpservers", "py-hs")
        self.assertEqual(sc["spec"]["replicas"], 2)
        self.co.patch_namespaced_custom_object_scale("peerop.io", "v1alpha1", NS, "httpservers", "py-hs",
                                                     {"spec": {"replicas": 4}})
        out = self.co.get_namespaced_custom_object("peerop.io", "v1alpha1", NS, "httpservers", "py-hs")
        self.assertEqual(out["spec"]["replicas"], 4)
        with self.assertRaises(ApiException) as e:
            self.co.patch_namespaced_custom_object("peerop.io", "v1alpha1", NS, "httpservers", "py-hs",
                                                   {"spec": {"replicas": -1}})
        self.assertEqual(e.exception.status, 422)


class Lifecycle(Base):
    def owned(self, name, owner):
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "ownerReferences": [{
            "apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid,
            "blockOwnerDeletion": True}]}}

    def gone(self, name):
        try:
            self.core.read_namespaced_config_map(name, NS)
            return False
        except ApiException as e:
            return e.status == 404

    def test_gc_policies(self):
        for policy, survives in (("Background", False), ("Foreground", False), ("Orphan", True)):
            owner = self.core.create_namespaced_config_map(NS, cm("py-owner-" + policy.lower()))
            dep = "py-dep-" + policy.lower()
            self.core.create_namespaced_config_map(NS, self.owned(dep, owner))
            self.core.delete_namespaced_config_map(owner.metadata.name, NS,
                                                   body=client.V1DeleteOptions(propagation_policy=policy))
            poll(lambda: self.gone(owner.metadata.name), 30, "the owner to go")
            if survives:
                d = self.core.read_namespaced_config_map(dep, NS)
                self.assertFalse(d.metadata.owner_references)
            else:
                poll(lambda: self.gone(dep), 30, "the dependent to go (%s)" % policy)

    def test_finalizers(self):
        self.core.create_namespaced_config_map(NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(
            name="py-fin", finalizers=["peerop.io/test"])))
        self.core.delete_namespaced_config_map("py-fin", NS)
        c = self.core.read_namespaced_config_map("py-fin", NS)
        self.assertIsNotNone(c.metadata.deletion_timestamp)
        self.core.patch_namespaced_config_map("py-fin", NS, [{"op": "remove", "path": "/metadata/finalizers"}])
        poll(lambda: self.gone("py-fin"), 30, "the finalized object to go")

    def test_events(self):
        ev = client.CoreV1Event(metadata=client.V1ObjectMeta(name="py-ev.1"),
                                involved_object=client.V1ObjectReference(kind="ConfigMap", name="x", namespace=NS),
                                reason="Tested", message="from python", type="Normal",
                                # the client's events.k8s.io/v1 model requires eventTime
                                event_time=datetime.datetime.now(datetime.timezone.utc), action="Testing",
                                reporting_component="py-test", reporting_instance="py-test-1")
        self.core.create_namespaced_event(NS, ev)
        lst = self.core.list_namespaced_event(NS, field_selector="reason=Tested")
        self.assertEqual([e.message for e in lst.items], ["from python"])
        v1 = client.EventsV1Api(self.api).list_namespaced_event(NS, field_selector="reason=Tested")
        self.assertEqual(v1.items[0].note, "from python")

    def test_leases(self):
        co = client.CoordinationV1Api(self.api)
        lease = client.V1Lease(metadata=client.V1ObjectMeta(name="py-lease"),
                               spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15))
        out = co.create_namespaced_lease(NS, lease)
        out.spec.holder_identity = "b"
        out = co.replace_namespaced_lease("py-lease", NS, out)
        self.assertEqual(out.spec.holder_identity, "b")


class Identities(Base):
    def test_token_request_and_rbac(self):
        self.core.create_namespaced_service_account(NS, client.V1ServiceAccount(
            metadata=client.V1ObjectMeta(name="py-bot")))
        tr = self.core.create_namespaced_service_account_token("py-bot", NS, client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)))
        self.assertTrue(tr.status.token.startswith("eyJ"))
        cfg = client.Configuration()
        cfg.host = self.api.configuration.host
        cfg.ssl_ca_cert = self.api.configuration.ssl_ca_cert
        cfg.api_key = {"authorization": "Bearer " + tr.status.token}
        bot = client.CoreV1Api(client.ApiClient(cfg))
        with self.assertRaises(ApiException) as e:
            bot.list_namespaced_pod(NS)
        self.assertEqual(e.exception.status, 403)
        self.assertIn('User \\"system:serviceaccount:default:py-bot\\" cannot list resource \\"pods\\"',
                      e.exception.body)
        rbac = client.RbacAuthorizationV1Api(self.api)
        rbac.create_namespaced_role(NS, client.V1Role(metadata=client.V1ObjectMeta(name="py-pods"), rules=[
            client.V1PolicyRule(api_groups=[""], resources=["pods"], verbs=["list"])]))
        rbac.create_namespaced_role_binding(NS, client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="py-pods"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="py-pods"),
            subjects=[client.V1Subject(kind="ServiceAccount", name="py-bot", namespace=NS)]))
        self.assertIsNotNone(bot.list_namespaced_pod(NS).items)
        rev = client.AuthorizationV1Api(client.ApiClient(cfg)).create_self_subject_access_review(
            client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(namespace=NS, verb="delete", resource="pods"))))
        self.assertFalse(rev.status.allowed)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
