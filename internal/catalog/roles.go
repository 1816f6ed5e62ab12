// Package catalog is the single source of truth for the names of the
// permission model: the 17 roles of the platform, the console actions each
// role grants, and the five legacy groups. The SpiceDB schema, the README's
// role table and every name the API accepts are derived from it.
package catalog

// Role is one of the platform's IAM roles.
type Role struct {
	// ID is the stable identifier, e.g. "cks-admin".
	ID string

	// Name is the display name used by the platform, e.g. "CKS Admin".
	Name string

	// Description is the platform's description of the role.
	Description string

	// Includes lists the IDs of roles whose actions this role also grants.
	Includes []string

	// Actions lists the console actions granted by this role itself,
	// not counting those of included roles.
	Actions []string
}

// roles is the platform's role table, in the order of the platform's
// documentation. Every Admin role includes its Viewer: the platform says so
// for Inference, Notifications and Integrations, and we decided it for IAM,
// CKS and Access Token too.
var roles = []Role{
	{
		ID:   "access-token-viewer",
		Name: "Access Token Viewer",
		Description: "Read-only visibility into personal access tokens " +
			"(list and view).",
		Actions: []string{
			"accesstoken.tokens.list",
			"accesstoken.tokens.get",
		},
	},
	{
		ID:   "access-token-admin",
		Name: "Access Token Admin",
		Description: "Full management of personal access tokens: create " +
			"and delete tokens for the current user as permitted by org " +
			"policy.",
		Includes: []string{"access-token-viewer"},
		Actions: []string{
			"accesstoken.tokens.create",
			"accesstoken.tokens.delete",
		},
	},
	{
		ID:   "iam-viewer",
		Name: "IAM Viewer",
		Description: "Read-only visibility across IAM configuration (for " +
			"example, view organization user permitted actions, SAML " +
			"configuration, AUP provisioning, API tokens, groups and " +
			"memberships).",
		Actions: []string{
			"iam.users.list",
			"iam.users.get",
			"iam.users.permissions",
			"iam.groups.list",
			"iam.groups.get",
			"iam.memberships.list",
			"iam.saml.get",
			"iam.provisioning.get",
			"iam.apitokens.list",
			"iam.policies.list",
			"iam.policies.get",
		},
	},
	{
		ID:   "iam-admin",
		Name: "IAM Admin",
		Description: "Administrative control over IAM: invite and revoke " +
			"users, create, delete, and update groups and memberships, and " +
			"configure identity integrations (for example, SAML SSO, AUP " +
			"provisioning, API tokens).",
		Includes: []string{"iam-viewer"},
		Actions: []string{
			"iam.users.invite",
			"iam.users.revoke",
			"iam.groups.create",
			"iam.groups.update",
			"iam.groups.delete",
			"iam.memberships.create",
			"iam.memberships.delete",
			"iam.saml.update",
			"iam.provisioning.update",
			"iam.apitokens.create",
			"iam.apitokens.delete",
			"iam.policies.create",
			"iam.policies.update",
			"iam.policies.delete",
		},
	},
	{
		ID:   "cks-viewer",
		Name: "CKS Viewer",
		Description: "Read-only visibility into Kubernetes resources: list " +
			"and view clusters and VPC resources.",
		Actions: []string{
			"cks.clusters.list",
			"cks.clusters.get",
			"cks.vpcs.list",
			"cks.vpcs.get",
		},
	},
	{
		ID:   "cks-admin",
		Name: "CKS Admin",
		Description: "Administrative control over Kubernetes resources: " +
			"create, update, and delete clusters and VPC resources.",
		Includes: []string{"cks-viewer"},
		Actions: []string{
			"cks.clusters.create",
			"cks.clusters.update",
			"cks.clusters.delete",
			"cks.vpcs.create",
			"cks.vpcs.update",
			"cks.vpcs.delete",
		},
	},
	{
		ID:   "inference-viewer",
		Name: "Inference Viewer",
		Description: "Read-only visibility into inference resources: list " +
			"and view gateways, deployments, and capacity claims.",
		Actions: []string{
			"inference.gateways.list",
			"inference.gateways.get",
			"inference.deployments.list",
			"inference.deployments.get",
			"inference.capacityclaims.list",
			"inference.capacityclaims.get",
		},
	},
	{
		ID:   "inference-admin",
		Name: "Inference Admin",
		Description: "Administrative control over inference resources: " +
			"create, update, and delete gateways, deployments, and capacity " +
			"claims. Includes Inference Viewer permissions.",
		Includes: []string{"inference-viewer"},
		Actions: []string{
			"inference.gateways.create",
			"inference.gateways.update",
			"inference.gateways.delete",
			"inference.deployments.create",
			"inference.deployments.update",
			"inference.deployments.delete",
			"inference.capacityclaims.create",
			"inference.capacityclaims.update",
			"inference.capacityclaims.delete",
		},
	},
	{
		ID:   "object-storage-admin",
		Name: "Object Storage Admin",
		Description: "Full administration for AI Object Storage: create " +
			"and delete buckets, manage organization access policies, and " +
			"create, revoke, and list access keys. Includes listing buckets " +
			"and ensuring and setting bucket access policies.",
		Actions: []string{
			"objectstorage.buckets.list",
			"objectstorage.buckets.create",
			"objectstorage.buckets.delete",
			"objectstorage.orgpolicies.list",
			"objectstorage.orgpolicies.set",
			"objectstorage.orgpolicies.delete",
			"objectstorage.accesskeys.list",
			"objectstorage.accesskeys.create",
			"objectstorage.accesskeys.revoke",
			"objectstorage.bucketpolicies.get",
			"objectstorage.bucketpolicies.ensure",
			"objectstorage.bucketpolicies.set",
		},
	},
	{
		ID:   "billing-viewer",
		Name: "Billing Viewer",
		Description: "Read-only access to billing data, including viewing " +
			"the billing dashboard, current balance, and listing and " +
			"downloading invoices.",
		Actions: []string{
			"billing.dashboard.view",
			"billing.balance.view",
			"billing.invoices.list",
			"billing.invoices.download",
		},
	},
	{
		ID:   "observability-viewer",
		Name: "Observability Viewer",
		Description: "Read-only access to observability data (for example, " +
			"cluster metrics and dashboards) for troubleshooting and " +
			"performance monitoring.",
		Actions: []string{
			"observability.metrics.view",
			"observability.dashboards.list",
			"observability.dashboards.view",
		},
	},
	{
		ID:   "notifications-viewer",
		Name: "Notifications Viewer",
		Description: "Read-only access to alert history, notification " +
			"delivery statuses, and the alert configuration page.",
		Actions: []string{
			"notifications.alerthistory.list",
			"notifications.deliverystatuses.list",
			"notifications.alertconfig.view",
			"notifications.subscriptions.list",
		},
	},
	{
		ID:   "notifications-admin",
		Name: "Notifications Admin",
		Description: "Manage which alerts the organization receives and " +
			"where they are delivered: subscribe and unsubscribe alerts per " +
			"destination on the alert configuration page. Includes " +
			"Notifications Viewer permissions.",
		Includes: []string{"notifications-viewer"},
		Actions: []string{
			"notifications.subscriptions.create",
			"notifications.subscriptions.delete",
		},
	},
	{
		ID:   "integrations-viewer",
		Name: "Integrations Viewer",
		Description: "Read-only visibility into notification destinations " +
			"and credentials, including the Integrations page and the " +
			"destinations list on the alert configuration page.",
		Actions: []string{
			"integrations.destinations.list",
			"integrations.destinations.get",
			"integrations.credentials.list",
			"integrations.credentials.get",
		},
	},
	{
		ID:   "integrations-admin",
		Name: "Integrations Admin",
		Description: "Full management of notification destinations and " +
			"credentials: create, update, and delete Slack and webhook " +
			"integrations. Includes Integrations Viewer permissions.",
		Includes: []string{"integrations-viewer"},
		Actions: []string{
			"integrations.destinations.create",
			"integrations.destinations.update",
			"integrations.destinations.delete",
			"integrations.credentials.create",
			"integrations.credentials.update",
			"integrations.credentials.delete",
		},
	},
	{
		ID:   "support-viewer",
		Name: "Support Viewer",
		Description: "Read-only access to support tickets and records in " +
			"the integrated support system (Freshdesk).",
		Actions: []string{
			"support.tickets.list",
			"support.tickets.get",
		},
	},
	{
		ID:   "access-request-approver",
		Name: "Access Request Approver",
		Description: "Approves or denies privileged access requests. Can " +
			"view the list of pending Service Account Management access " +
			"requests.",
		Actions: []string{
			"accessrequests.requests.list",
			"accessrequests.requests.approve",
			"accessrequests.requests.deny",
		},
	},
}

// LegacyGroup is one of the platform's pre-policy groups. Each becomes a
// default policy of every organization, with exactly these roles.
type LegacyGroup struct {
	// Name is the legacy group's name, e.g. "billing_viewer".
	Name string

	// Roles lists the IDs of the roles the group's members hold.
	Roles []string
}

// legacyGroups is the platform's legacy group table.
var legacyGroups = []LegacyGroup{
	{Name: "admin", Roles: []string{
		"iam-admin", "cks-admin", "object-storage-admin",
		"access-token-admin", "access-request-approver",
	}},
	{Name: "write", Roles: []string{
		"cks-admin", "object-storage-admin", "access-token-admin",
	}},
	{Name: "read", Roles: []string{
		"iam-viewer", "cks-viewer", "access-token-viewer",
	}},
	{Name: "metrics", Roles: []string{"observability-viewer"}},
	{Name: "billing_viewer", Roles: []string{"billing-viewer"}},
}
