// Package e2e holds the end-to-end suite of iamd and the harness it runs
// on: images built from this module's own inputs, and a SpiceDB cluster
// on PostgreSQL, each node in its own container on a private Docker
// network.
//
// No container registry is reachable from this project's machines, so
// every image is made here: the Go images from a static binary on an
// empty base, the PostgreSQL image from Debian's packages (see
// images/postgres-rootfs.sh). Each image is tagged with a hash of what
// went into it, so a run whose inputs did not change reuses the images of
// the last one.
//
// Running the suite:
//
//	GOTOOLCHAIN=go1.27.3 go test -timeout 30m ./e2e/
//
// The first run on a machine builds the images and needs root (for
// debootstrap and chroot) and Debian's package mirror. With an empty Go
// build cache it took 13 minutes on 2 cores, most of it compiling
// SpiceDB, hence the timeout; later runs take seconds. `go test -short` skips the whole suite. Without a Docker
// engine the suite skips, except when CI=true, where it fails.
//
// Environment:
//
//	IAM_E2E_CACHE          folder for built artefacts
//	                       (default: the user cache folder)
//	IAM_E2E_DEBIAN_MIRROR  Debian mirror for the PostgreSQL image
//	                       (default: http://deb.debian.org/debian)
package e2e
