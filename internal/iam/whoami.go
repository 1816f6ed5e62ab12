package iam

import (
	"context"
	"errors"
	"io"
	"sort"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"

	"github.com/gpucloud/iam/internal/catalog"
	"github.com/gpucloud/iam/internal/iamerr"
)

// Identity is what the service knows of a principal: its organization,
// the groups it is in (directly or through nesting), and the roles and
// console actions it holds.
type Identity struct {
	Principal string
	Org       string
	Groups    []string
	Roles     []string
	Actions   []string
}

// WhoAmI describes a user or service account.
func (s *Service) WhoAmI(ctx context.Context, who string) (Identity, error) {
	p, err := parseMember("principal", who)
	if err != nil {
		return Identity{}, err
	}
	org, err := s.OrganizationOf(ctx, who)
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Principal: p.String(), Org: org}

	id.Groups, err = s.groupsOf(ctx, org, subjectOf(org, p))
	if err != nil {
		return Identity{}, err
	}

	// One bulk check answers every role and action at one snapshot, the
	// newest, like the group lookup above: the answer describes the
	// principal as it is now, not as a cache last saw it.
	roles := catalog.Roles()
	actions := catalog.Actions()
	var reqs []CheckRequest
	for _, r := range roles {
		reqs = append(reqs, CheckRequest{
			Org: org, Principal: who, Role: r.ID, FullyConsistent: true,
		})
	}
	for _, a := range actions {
		reqs = append(reqs, CheckRequest{
			Org: org, Principal: who, Action: a, FullyConsistent: true,
		})
	}
	answers, _, err := s.CheckBulk(ctx, reqs)
	if err != nil {
		return Identity{}, err
	}

	id.Roles, id.Actions = []string{}, []string{}
	for i, r := range roles {
		if answers[i].Allowed {
			id.Roles = append(id.Roles, r.ID)
		}
	}
	for i, a := range actions {
		if answers[len(roles)+i].Allowed {
			id.Actions = append(id.Actions, a)
		}
	}
	return id, nil
}

// groupsOf returns the names of org's groups that subject is a member of.
func (s *Service) groupsOf(
	ctx context.Context, org string, subject *v1.SubjectReference,
) ([]string, error) {
	stream, err := s.engine.LookupResources(ctx, &v1.LookupResourcesRequest{
		Consistency:        fullyConsistent(),
		ResourceObjectType: typeGroup,
		Permission:         relMember,
		Subject:            subject,
	})
	if err != nil {
		return nil, engineError("lookup groups", "", err)
	}

	groups := []string{}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, engineError("lookup groups", "", err)
		}
		objectID := resp.GetResourceObjectId()
		if !strings.HasPrefix(objectID, org+"/") {
			continue
		}
		g, err := principalOfSubject(subjectObject(typeGroup, objectID))
		if err != nil {
			return nil, iamerr.Wrap(iamerr.Internal, err,
				"a stored group ID is malformed", "report it to the operator")
		}
		groups = append(groups, g.ID)
	}
	sort.Strings(groups)
	return groups, nil
}
