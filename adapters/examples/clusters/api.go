package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/gpucloud/iam/adapters/authz"
	"github.com/gpucloud/iam/adapters/httpauthz"
)

// Cluster is a Kubernetes cluster of an organization. The example keeps
// only its name; a real service would provision it.
type Cluster struct {
	Name         string    `json:"name"`
	Organization string    `json:"organization"`
	CreatedBy    string    `json:"created_by"`
	CreateTime   time.Time `json:"create_time"`
}

// maxBodyBytes bounds a create request's body.
const maxBodyBytes = 4 << 10

// clusterName is a DNS label, as Kubernetes names its clusters.
var clusterName = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)

// store holds the clusters of every organization, in memory.
type store struct {
	mu       sync.Mutex
	clusters map[string]map[string]Cluster // organization, name
	now      func() time.Time
}

func newStore() *store {
	return &store{clusters: map[string]map[string]Cluster{}, now: time.Now}
}

// newHandler serves the clusters API. Each route names the console
// action it needs; the middleware refuses everything else before the
// handler runs. callers finds who makes a request.
func newHandler(
	s *store, checker authz.Checker, callers authz.Extractor, log *slog.Logger,
) http.Handler {
	guard := httpauthz.New(checker, callers,
		httpauthz.OrganizationFromPath("org"),
		httpauthz.WithLogger(log))

	mux := http.NewServeMux()
	mux.Handle("GET /orgs/{org}/clusters",
		guard.Require("cks.clusters.list")(http.HandlerFunc(s.list)))
	mux.Handle("POST /orgs/{org}/clusters",
		guard.Require("cks.clusters.create")(http.HandlerFunc(s.create)))
	mux.Handle("GET /orgs/{org}/clusters/{name}",
		guard.Require("cks.clusters.get")(http.HandlerFunc(s.get)))
	mux.Handle("DELETE /orgs/{org}/clusters/{name}",
		guard.Require("cks.clusters.delete")(http.HandlerFunc(s.delete)))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}

// list answers the organization's clusters, by name.
func (s *store) list(w http.ResponseWriter, r *http.Request) {
	org := subject(r).Organization

	s.mu.Lock()
	out := make([]Cluster, 0, len(s.clusters[org]))
	for _, c := range s.clusters[org] {
		out = append(out, c)
	}
	s.mu.Unlock()

	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	reply(w, http.StatusOK, map[string]any{"clusters": out})
}

// create adds a cluster named by the JSON body {"name": "..."}.
func (s *store) create(w http.ResponseWriter, r *http.Request) {
	who := subject(r)
	var body struct {
		Name string `json:"name"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		refuse(w, http.StatusBadRequest, "invalid_argument",
			"the body is not a JSON object {\"name\": \"...\"}: "+err.Error())
		return
	}
	if !clusterName.MatchString(body.Name) {
		refuse(w, http.StatusBadRequest, "invalid_argument", fmt.Sprintf(
			"name %q: not a DNS label; use 1 to 63 lower-case letters, "+
				"digits and '-', starting with a letter", body.Name))
		return
	}

	c := Cluster{
		Name: body.Name, Organization: who.Organization,
		CreatedBy: who.Principal, CreateTime: s.now().UTC(),
	}
	if err := s.add(c); err != nil {
		refuse(w, http.StatusConflict, "already_exists", err.Error())
		return
	}
	reply(w, http.StatusCreated, c)
}

func (s *store) add(c Cluster) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clusters[c.Organization][c.Name]; ok {
		return fmt.Errorf("name %q: organization %s already has a "+
			"cluster of that name; choose another", c.Name, c.Organization)
	}
	if s.clusters[c.Organization] == nil {
		s.clusters[c.Organization] = map[string]Cluster{}
	}
	s.clusters[c.Organization][c.Name] = c
	return nil
}

// get answers one cluster.
func (s *store) get(w http.ResponseWriter, r *http.Request) {
	org, name := subject(r).Organization, r.PathValue("name")

	s.mu.Lock()
	c, ok := s.clusters[org][name]
	s.mu.Unlock()

	if !ok {
		refuse(w, http.StatusNotFound, "not_found", notFound(org, name))
		return
	}
	reply(w, http.StatusOK, c)
}

// delete removes one cluster.
func (s *store) delete(w http.ResponseWriter, r *http.Request) {
	org, name := subject(r).Organization, r.PathValue("name")

	s.mu.Lock()
	_, ok := s.clusters[org][name]
	delete(s.clusters[org], name)
	s.mu.Unlock()

	if !ok {
		refuse(w, http.StatusNotFound, "not_found", notFound(org, name))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many clusters exist, in every organization.
func (s *store) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, byName := range s.clusters {
		n += len(byName)
	}
	return n
}

// subject is who the middleware allowed, in the organization it
// checked. Handlers act only there.
func subject(r *http.Request) authz.Subject {
	s, ok := authz.SubjectFrom(r.Context())
	if !ok {
		// Only reachable if a route lost its middleware: refuse loudly.
		panic(errors.New("clusters: a handler ran without authorization"))
	}
	return s
}

func notFound(org, name string) string {
	return fmt.Sprintf("name %q: organization %s has no such cluster; "+
		"list them with GET /orgs/%s/clusters", name, org, org)
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, status int, code, message string) {
	reply(w, status, map[string]string{"code": code, "message": message})
}
