package api

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	iamv1 "github.com/gpucloud/iam/adapters/api/iam/v1"
	"github.com/gpucloud/iam/internal/iam"
)

// Conversions between the facade's types and the API's messages.

func writeResult(w iam.WriteResult) *iamv1.WriteResult {
	return &iamv1.WriteResult{ConsistencyToken: w.Token}
}

func policyToProto(p iam.Policy) *iamv1.Policy {
	out := &iamv1.Policy{
		OrganizationId: p.Org,
		PolicyId:       p.ID,
		Description:    p.Description,
		Rules:          make([]*iamv1.Rule, 0, len(p.Rules)),
		Default:        p.Default,
		Etag:           p.Etag,
	}
	if !p.CreatedAt.IsZero() {
		out.CreateTime = timestamppb.New(p.CreatedAt)
	}
	for _, r := range p.Rules {
		out.Rules = append(out.Rules, &iamv1.Rule{
			Principals: r.Principals, Roles: r.Roles,
		})
	}
	return out
}

func policyInput(p *iamv1.Policy) iam.PolicyInput {
	in := iam.PolicyInput{
		Org:         p.GetOrganizationId(),
		ID:          p.GetPolicyId(),
		Description: p.GetDescription(),
		Etag:        p.GetEtag(),
	}
	for _, r := range p.GetRules() {
		in.Rules = append(in.Rules, iam.Rule{
			Principals: r.GetPrincipals(), Roles: r.GetRoles(),
		})
	}
	return in
}

func groupToProto(g iam.Group) *iamv1.Group {
	return &iamv1.Group{
		OrganizationId: g.Org, Name: g.Name, Members: g.Members,
	}
}

func checkRequest(c *iamv1.CheckRequest) iam.CheckRequest {
	return iam.CheckRequest{
		Org:            c.GetOrganizationId(),
		Principal:      c.GetPrincipal(),
		Action:         c.GetAction(),
		Role:           c.GetRole(),
		AtLeastAsFresh: c.GetConsistencyToken(),
	}
}
