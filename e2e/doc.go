// Package e2e holds the end-to-end suite of iamd and the harness it runs
// on: images built from this module's own inputs, and a SpiceDB cluster
// on PostgreSQL, each node in its own container on a private Docker
// network.
//
// The suite runs two iamd replicas in front of the cluster and talks to
// them only through their ports published on 127.0.0.1 (TestIAMD): the
// seed example through both, a write through one seen by the other,
// tokens minted by one used at the other, a SpiceDB node stopped,
// iamd and PostgreSQL restarted without losing an acknowledged write,
// and SpiceDB cut off, where checks fail and never allow. TestCompose
// brings deploy/docker-compose.yaml up with the same images and runs the
// seed example against it.
//
// No container registry is reachable from this project's machines, so
// every image is made here: the Go images from static binaries on an
// empty base (iamd's from deploy/Dockerfile), the PostgreSQL image from
// Debian's packages (see images/postgres-rootfs.sh). Each image is
// tagged with a hash of what went into it, so a run whose inputs did
// not change reuses the images of the last one, and also :latest, the
// tag deploy/docker-compose.yaml runs by default.
//
// Running the suite:
//
//	GOTOOLCHAIN=go1.27.3 go test -timeout 30m ./e2e/
//
// The first run on a machine builds the images and needs root (for
// debootstrap and chroot) and Debian's package mirror. With an empty Go
// build cache it took 13 minutes on 2 cores, most of it compiling
// SpiceDB, hence the timeout; later runs build nothing and take the
// time of their scenarios, about five minutes. TestCompose also needs a
// Compose tool: the docker CLI's plugin or docker-compose. `go test
// -short` skips the whole suite. Without a Docker engine or a Compose
// tool the suite skips, except when CI=true, where it fails.
//
// Environment:
//
//	IAM_E2E_CACHE          folder for built artefacts
//	                       (default: the user cache folder)
//	IAM_E2E_DEBIAN_MIRROR  Debian mirror for the PostgreSQL image
//	                       (default: http://deb.debian.org/debian)
package e2e
