/* pb_types.c: protobuf message descriptors (field number, JSON name, kind)
 * of the kinds client-go's typed clients send to devcluster: what
 * `kubectl create configmap|secret|namespace|serviceaccount|service|
 * deployment` builds, helm's release Secrets, and DeleteOptions. The
 * numbers are those of k8s.io/api and k8s.io/apimachinery's
 * generated.proto (checked against kubectl 1.32 and 1.34 request bodies).
 * Fields left out are refused by protobuf.c with a 415 naming them, never
 * dropped. DC_PB_KEEP marks Go pointer fields: present means set, even to
 * a zero value. */
#include "apiserver.h"

#include <string.h>

#define END { 0, NULL, 0, 0, NULL }
#define S(n, j) { n, j, DC_PB_STRING, 0, NULL }
#define SR(n, j) { n, j, DC_PB_STRING, DC_PB_REPEATED, NULL }
#define I(n, j) { n, j, DC_PB_INT, 0, NULL }
#define IP(n, j) { n, j, DC_PB_INT, DC_PB_KEEP, NULL }
#define B(n, j) { n, j, DC_PB_BOOL, 0, NULL }
#define BP(n, j) { n, j, DC_PB_BOOL, DC_PB_KEEP, NULL }
#define M(n, j, m) { n, j, DC_PB_MSG, 0, &m }
#define MR(n, j, m) { n, j, DC_PB_MSG, DC_PB_REPEATED, &m }
#define T(n, j) { n, j, DC_PB_TIME, 0, NULL }
#define MAP(n, j) { n, j, DC_PB_MAP_SS, 0, NULL }
#define MAPB(n, j) { n, j, DC_PB_MAP_SB, 0, NULL }
#define MAPQ(n, j) { n, j, DC_PB_MAP_SQ, 0, NULL }
#define IOS(n, j) { n, j, DC_PB_INTORSTR, 0, NULL }
#define RAW(n, j) { n, j, DC_PB_RAWJSON, 0, NULL }

/* ---- meta/v1 ---- */

static const dc_pb_field owner_ref_f[] = { S(1, "kind"), S(3, "name"), S(4, "uid"), S(5, "apiVersion"),
	BP(6, "controller"), BP(7, "blockOwnerDeletion"), END };
static const dc_pb_msg owner_ref = { "OwnerReference", owner_ref_f };

static const dc_pb_field mfe_f[] = { S(1, "manager"), S(2, "operation"), S(3, "apiVersion"), T(4, "time"),
	S(6, "fieldsType"), RAW(7, "fieldsV1"), S(8, "subresource"), END };
static const dc_pb_msg mfe = { "ManagedFieldsEntry", mfe_f };

static const dc_pb_field object_meta_f[] = { S(1, "name"), S(2, "generateName"), S(3, "namespace"),
	S(4, "selfLink"), S(5, "uid"), S(6, "resourceVersion"), I(7, "generation"), T(8, "creationTimestamp"),
	T(9, "deletionTimestamp"), IP(10, "deletionGracePeriodSeconds"), MAP(11, "labels"), MAP(12, "annotations"),
	MR(13, "ownerReferences", owner_ref), SR(14, "finalizers"), MR(17, "managedFields", mfe), END };
static const dc_pb_msg object_meta = { "ObjectMeta", object_meta_f };

static const dc_pb_field lsr_f[] = { S(1, "key"), S(2, "operator"), SR(3, "values"), END };
static const dc_pb_msg lsr = { "LabelSelectorRequirement", lsr_f };
static const dc_pb_field label_selector_f[] = { MAP(1, "matchLabels"), MR(2, "matchExpressions", lsr), END };
static const dc_pb_msg label_selector = { "LabelSelector", label_selector_f };

static const dc_pb_field preconditions_f[] = { { 1, "uid", DC_PB_STRING, DC_PB_KEEP, NULL },
	{ 2, "resourceVersion", DC_PB_STRING, DC_PB_KEEP, NULL }, END };
static const dc_pb_msg preconditions = { "Preconditions", preconditions_f };
static const dc_pb_field delete_options_f[] = { IP(1, "gracePeriodSeconds"), M(2, "preconditions", preconditions),
	BP(3, "orphanDependents"), { 4, "propagationPolicy", DC_PB_STRING, DC_PB_KEEP, NULL }, SR(5, "dryRun"), END };
static const dc_pb_msg delete_options = { "DeleteOptions", delete_options_f };

/* ---- core/v1 ---- */

static const dc_pb_field configmap_f[] = { M(1, "metadata", object_meta), MAP(2, "data"), MAPB(3, "binaryData"),
	BP(4, "immutable"), END };
static const dc_pb_msg configmap = { "ConfigMap", configmap_f };

static const dc_pb_field secret_f[] = { M(1, "metadata", object_meta), MAPB(2, "data"), S(3, "type"),
	MAP(4, "stringData"), BP(5, "immutable"), END };
static const dc_pb_msg secret = { "Secret", secret_f };

static const dc_pb_field ns_spec_f[] = { SR(1, "finalizers"), END };
static const dc_pb_msg ns_spec = { "NamespaceSpec", ns_spec_f };
static const dc_pb_field ns_status_f[] = { S(1, "phase"), END };
static const dc_pb_msg ns_status = { "NamespaceStatus", ns_status_f };
static const dc_pb_field namespace_f[] = { M(1, "metadata", object_meta), M(2, "spec", ns_spec),
	M(3, "status", ns_status), END };
static const dc_pb_msg namespace_m = { "Namespace", namespace_f };

static const dc_pb_field object_ref_f[] = { S(1, "kind"), S(2, "namespace"), S(3, "name"), S(4, "uid"),
	S(5, "apiVersion"), S(6, "resourceVersion"), S(7, "fieldPath"), END };
static const dc_pb_msg object_ref = { "ObjectReference", object_ref_f };
static const dc_pb_field local_ref_f[] = { S(1, "name"), END };
static const dc_pb_msg local_ref = { "LocalObjectReference", local_ref_f };
static const dc_pb_field service_account_f[] = { M(1, "metadata", object_meta), MR(2, "secrets", object_ref),
	MR(3, "imagePullSecrets", local_ref), BP(4, "automountServiceAccountToken"), END };
static const dc_pb_msg service_account = { "ServiceAccount", service_account_f };

static const dc_pb_field service_port_f[] = { S(1, "name"), S(2, "protocol"), I(3, "port"), IOS(4, "targetPort"),
	I(5, "nodePort"), { 6, "appProtocol", DC_PB_STRING, DC_PB_KEEP, NULL }, END };
static const dc_pb_msg service_port = { "ServicePort", service_port_f };
static const dc_pb_field service_spec_f[] = { MR(1, "ports", service_port), MAP(2, "selector"), S(3, "clusterIP"),
	S(4, "type"), SR(5, "externalIPs"), S(7, "sessionAffinity"), S(8, "loadBalancerIP"),
	SR(9, "loadBalancerSourceRanges"), S(10, "externalName"), S(11, "externalTrafficPolicy"),
	I(12, "healthCheckNodePort"), B(13, "publishNotReadyAddresses"), END };
static const dc_pb_msg service_spec = { "ServiceSpec", service_spec_f };
static const dc_pb_field lb_ingress_f[] = { S(1, "ip"), S(2, "hostname"), END };
static const dc_pb_msg lb_ingress = { "LoadBalancerIngress", lb_ingress_f };
static const dc_pb_field lb_status_f[] = { MR(1, "ingress", lb_ingress), END };
static const dc_pb_msg lb_status = { "LoadBalancerStatus", lb_status_f };
static const dc_pb_field service_status_f[] = { M(1, "loadBalancer", lb_status), END };
static const dc_pb_msg service_status = { "ServiceStatus", service_status_f };
static const dc_pb_field service_f[] = { M(1, "metadata", object_meta), M(2, "spec", service_spec),
	M(3, "status", service_status), END };
static const dc_pb_msg service = { "Service", service_f };

static const dc_pb_field container_port_f[] = { S(1, "name"), I(2, "hostPort"), I(3, "containerPort"),
	S(4, "protocol"), S(5, "hostIP"), END };
static const dc_pb_msg container_port = { "ContainerPort", container_port_f };
static const dc_pb_field env_var_f[] = { S(1, "name"), S(2, "value"), END };
static const dc_pb_msg env_var = { "EnvVar", env_var_f };
static const dc_pb_field resources_f[] = { MAPQ(1, "limits"), MAPQ(2, "requests"), END };
static const dc_pb_msg resources = { "ResourceRequirements", resources_f };
static const dc_pb_field volume_mount_f[] = { S(1, "name"), B(2, "readOnly"), S(3, "mountPath"), S(4, "subPath"), END };
static const dc_pb_msg volume_mount = { "VolumeMount", volume_mount_f };
static const dc_pb_field container_f[] = { S(1, "name"), S(2, "image"), SR(3, "command"), SR(4, "args"),
	S(5, "workingDir"), MR(6, "ports", container_port), MR(7, "env", env_var), M(8, "resources", resources),
	MR(9, "volumeMounts", volume_mount), S(13, "terminationMessagePath"), S(14, "imagePullPolicy"),
	B(16, "stdin"), B(17, "stdinOnce"), B(18, "tty"), S(20, "terminationMessagePolicy"), END };
static const dc_pb_msg container = { "Container", container_f };
static const dc_pb_field pod_spec_f[] = { MR(2, "containers", container), S(3, "restartPolicy"),
	IP(4, "terminationGracePeriodSeconds"), IP(5, "activeDeadlineSeconds"), S(6, "dnsPolicy"),
	MAP(7, "nodeSelector"), S(8, "serviceAccountName"), S(9, "serviceAccount"), S(10, "nodeName"),
	B(11, "hostNetwork"), B(12, "hostPID"), B(13, "hostIPC"), MR(15, "imagePullSecrets", local_ref),
	S(16, "hostname"), S(17, "subdomain"), S(19, "schedulerName"), MR(20, "initContainers", container),
	BP(21, "automountServiceAccountToken"), S(24, "priorityClassName"), IP(25, "priority"),
	BP(30, "enableServiceLinks"), END };
static const dc_pb_msg pod_spec = { "PodSpec", pod_spec_f };
static const dc_pb_field pod_template_f[] = { M(1, "metadata", object_meta), M(2, "spec", pod_spec), END };
static const dc_pb_msg pod_template = { "PodTemplateSpec", pod_template_f };

/* ---- apps/v1 ---- */

static const dc_pb_field rolling_update_f[] = { IOS(1, "maxUnavailable"), IOS(2, "maxSurge"), END };
static const dc_pb_msg rolling_update = { "RollingUpdateDeployment", rolling_update_f };
static const dc_pb_field strategy_f[] = { S(1, "type"), M(2, "rollingUpdate", rolling_update), END };
static const dc_pb_msg strategy = { "DeploymentStrategy", strategy_f };
static const dc_pb_field deployment_spec_f[] = { IP(1, "replicas"), M(2, "selector", label_selector),
	M(3, "template", pod_template), M(4, "strategy", strategy), I(5, "minReadySeconds"),
	IP(6, "revisionHistoryLimit"), B(7, "paused"), IP(9, "progressDeadlineSeconds"), END };
static const dc_pb_msg deployment_spec = { "DeploymentSpec", deployment_spec_f };
static const dc_pb_field deployment_status_f[] = { I(1, "observedGeneration"), I(2, "replicas"),
	I(3, "updatedReplicas"), I(4, "availableReplicas"), I(5, "unavailableReplicas"), I(7, "readyReplicas"),
	IP(8, "collisionCount"), END };
static const dc_pb_msg deployment_status = { "DeploymentStatus", deployment_status_f };
static const dc_pb_field deployment_f[] = { M(1, "metadata", object_meta), M(2, "spec", deployment_spec),
	M(3, "status", deployment_status), END };
static const dc_pb_msg deployment = { "Deployment", deployment_f };

/* ---- authentication/v1, authorization/v1 ---- */

static const dc_pb_field bound_ref_f[] = { S(1, "kind"), S(2, "apiVersion"), S(3, "name"), S(4, "uid"), END };
static const dc_pb_msg bound_ref = { "BoundObjectReference", bound_ref_f };
static const dc_pb_field token_request_spec_f[] = { SR(1, "audiences"), M(3, "boundObjectRef", bound_ref),
	IP(4, "expirationSeconds"), END };
static const dc_pb_msg token_request_spec = { "TokenRequestSpec", token_request_spec_f };
/* a reply's status, sent empty by clients */
static const dc_pb_field token_request_status_f[] = { S(1, "token"), T(2, "expirationTimestamp"), END };
static const dc_pb_msg token_request_status = { "TokenRequestStatus", token_request_status_f };
static const dc_pb_field user_info_f[] = { S(1, "username"), S(2, "uid"), SR(3, "groups"), END };
static const dc_pb_msg user_info = { "UserInfo", user_info_f };
static const dc_pb_field token_review_status_f[] = { B(1, "authenticated"), M(2, "user", user_info),
	S(3, "error"), SR(4, "audiences"), END };
static const dc_pb_msg token_review_status = { "TokenReviewStatus", token_review_status_f };
static const dc_pb_field ssr_status_f[] = { M(1, "userInfo", user_info), END };
static const dc_pb_msg ssr_status = { "SelfSubjectReviewStatus", ssr_status_f };
static const dc_pb_field sar_status_f[] = { B(1, "allowed"), S(2, "reason"), S(3, "evaluationError"),
	B(4, "denied"), END };
static const dc_pb_msg sar_status = { "SubjectAccessReviewStatus", sar_status_f };
static const dc_pb_field rrule_f[] = { SR(1, "verbs"), SR(2, "apiGroups"), SR(3, "resources"),
	SR(4, "resourceNames"), END };
static const dc_pb_msg rrule = { "ResourceRule", rrule_f };
static const dc_pb_field nrrule_f[] = { SR(1, "verbs"), SR(2, "nonResourceURLs"), END };
static const dc_pb_msg nrrule = { "NonResourceRule", nrrule_f };
static const dc_pb_field srr_status_f[] = { MR(1, "resourceRules", rrule), MR(2, "nonResourceRules", nrrule),
	B(3, "incomplete"), S(4, "evaluationError"), END };
static const dc_pb_msg srr_status = { "SubjectRulesReviewStatus", srr_status_f };
static const dc_pb_field token_request_f[] = { M(1, "metadata", object_meta), M(2, "spec", token_request_spec),
	M(3, "status", token_request_status), END };
static const dc_pb_msg token_request = { "TokenRequest", token_request_f };
static const dc_pb_field token_review_spec_f[] = { S(1, "token"), SR(2, "audiences"), END };
static const dc_pb_msg token_review_spec = { "TokenReviewSpec", token_review_spec_f };
static const dc_pb_field token_review_f[] = { M(1, "metadata", object_meta), M(2, "spec", token_review_spec),
	M(3, "status", token_review_status), END };
static const dc_pb_msg token_review = { "TokenReview", token_review_f };
static const dc_pb_field self_subject_review_f[] = { M(1, "metadata", object_meta), M(2, "status", ssr_status),
	END };
static const dc_pb_msg self_subject_review = { "SelfSubjectReview", self_subject_review_f };

static const dc_pb_field resource_attrs_f[] = { S(1, "namespace"), S(2, "verb"), S(3, "group"), S(4, "version"),
	S(5, "resource"), S(6, "subresource"), S(7, "name"), END };
static const dc_pb_msg resource_attrs = { "ResourceAttributes", resource_attrs_f };
static const dc_pb_field nonresource_attrs_f[] = { S(1, "path"), S(2, "verb"), END };
static const dc_pb_msg nonresource_attrs = { "NonResourceAttributes", nonresource_attrs_f };
static const dc_pb_field ssar_spec_f[] = { M(1, "resourceAttributes", resource_attrs),
	M(2, "nonResourceAttributes", nonresource_attrs), END };
static const dc_pb_msg ssar_spec = { "SelfSubjectAccessReviewSpec", ssar_spec_f };
static const dc_pb_field ssar_f[] = { M(1, "metadata", object_meta), M(2, "spec", ssar_spec),
	M(3, "status", sar_status), END };
static const dc_pb_msg ssar = { "SelfSubjectAccessReview", ssar_f };
static const dc_pb_field sar_spec_f[] = { M(1, "resourceAttributes", resource_attrs),
	M(2, "nonResourceAttributes", nonresource_attrs), S(3, "user"), SR(4, "groups"), S(6, "uid"), END };
static const dc_pb_msg sar_spec = { "SubjectAccessReviewSpec", sar_spec_f };
static const dc_pb_field sar_f[] = { M(1, "metadata", object_meta), M(2, "spec", sar_spec),
	M(3, "status", sar_status), END };
static const dc_pb_msg sar = { "SubjectAccessReview", sar_f };
static const dc_pb_msg lsar = { "LocalSubjectAccessReview", sar_f };
static const dc_pb_field ssrr_spec_f[] = { S(1, "namespace"), END };
static const dc_pb_msg ssrr_spec = { "SelfSubjectRulesReviewSpec", ssrr_spec_f };
static const dc_pb_field ssrr_f[] = { M(1, "metadata", object_meta), M(2, "spec", ssrr_spec),
	M(3, "status", srr_status), END };
static const dc_pb_msg ssrr = { "SelfSubjectRulesReview", ssrr_f };

/* ---- rbac.authorization.k8s.io/v1 ---- */

static const dc_pb_field policy_rule_f[] = { SR(1, "verbs"), SR(2, "apiGroups"), SR(3, "resources"),
	SR(4, "resourceNames"), SR(5, "nonResourceURLs"), END };
static const dc_pb_msg policy_rule = { "PolicyRule", policy_rule_f };
static const dc_pb_field aggregation_f[] = { MR(1, "clusterRoleSelectors", label_selector), END };
static const dc_pb_msg aggregation = { "AggregationRule", aggregation_f };
static const dc_pb_field role_f[] = { M(1, "metadata", object_meta), MR(2, "rules", policy_rule), END };
static const dc_pb_msg role = { "Role", role_f };
static const dc_pb_field cluster_role_f[] = { M(1, "metadata", object_meta), MR(2, "rules", policy_rule),
	M(3, "aggregationRule", aggregation), END };
static const dc_pb_msg cluster_role = { "ClusterRole", cluster_role_f };
static const dc_pb_field subject_f[] = { S(1, "kind"), S(2, "apiGroup"), S(3, "name"), S(4, "namespace"), END };
static const dc_pb_msg subject = { "Subject", subject_f };
static const dc_pb_field role_ref_f[] = { S(1, "apiGroup"), S(2, "kind"), S(3, "name"), END };
static const dc_pb_msg role_ref = { "RoleRef", role_ref_f };
static const dc_pb_field binding_f[] = { M(1, "metadata", object_meta), MR(2, "subjects", subject),
	M(3, "roleRef", role_ref), END };
static const dc_pb_msg role_binding = { "RoleBinding", binding_f };
static const dc_pb_msg cluster_role_binding = { "ClusterRoleBinding", binding_f };

static const struct {
	const char *api_version, *kind;
	const dc_pb_msg *msg;
} kinds[] = {
	{ "v1", "ConfigMap", &configmap },
	{ "v1", "Secret", &secret },
	{ "v1", "Namespace", &namespace_m },
	{ "v1", "ServiceAccount", &service_account },
	{ "v1", "Service", &service },
	{ "apps/v1", "Deployment", &deployment },
	{ "authentication.k8s.io/v1", "TokenRequest", &token_request },
	{ "authentication.k8s.io/v1", "TokenReview", &token_review },
	{ "authentication.k8s.io/v1", "SelfSubjectReview", &self_subject_review },
	{ "authorization.k8s.io/v1", "SelfSubjectAccessReview", &ssar },
	{ "authorization.k8s.io/v1", "SubjectAccessReview", &sar },
	{ "authorization.k8s.io/v1", "LocalSubjectAccessReview", &lsar },
	{ "authorization.k8s.io/v1", "SelfSubjectRulesReview", &ssrr },
	{ "rbac.authorization.k8s.io/v1", "Role", &role },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole", &cluster_role },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", &role_binding },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &cluster_role_binding },
	/* client-go sends DeleteOptions under the group-version of the call */
	{ NULL, "DeleteOptions", &delete_options },
};

const dc_pb_msg *dc_pb_find(const char *api_version, const char *kind)
{
	size_t i;
	for (i = 0; i < PEEROP__ARRAY_SIZE(kinds); i++)
		if (!strcmp(kinds[i].kind, kind) && (!kinds[i].api_version || !strcmp(kinds[i].api_version, api_version)))
			return kinds[i].msg;
	return NULL;
}
