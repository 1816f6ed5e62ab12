# An image of one static Go binary and nothing else. rootfs.tar holds the
# binary and a world-writable /tmp, written by the harness (images.go).
FROM scratch
ADD rootfs.tar /
USER {{.User}}
ENTRYPOINT ["/usr/local/bin/{{.Binary}}"]
LABEL {{.Label}}="{{.Repo}}"
