# syntax=docker/dockerfile:1
#
# One example program as a small static image:
#
#   docker build -t sockjs-chat .                                    # examples/chat
#   docker build -t sockjs-testserver --build-arg EXAMPLE=testserver .
#   docker run --rm -p 8080:8080 sockjs-chat
#
# The binary is PID 1 (exec-form ENTRYPOINT, no shell), so SIGTERM reaches
# it and the example drains its sessions before exiting; give it longer
# than its drain timeout (10 s) to stop. Arguments after the image name
# replace the default CMD, e.g. "-addr :8080 -redis redis://redis:6379/0".
# The image has no shell or curl: health checks run the binary itself,
# "/server -healthcheck http://127.0.0.1:8080/chat/info".
#
# integration_test/deploy_test.go (run by make test) runs the
# same go build and checks this file's shape; no Docker engine needed.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change reuses their layer. The
# examples are a module of their own (examples/go.mod), which requires the
# library and sockjsprom from this tree.
COPY go.mod go.sum ./
COPY sockjsprom/go.mod sockjsprom/go.sum ./sockjsprom/
COPY examples/go.mod examples/go.sum ./examples/
RUN cd examples && go mod download
COPY . .
WORKDIR /src/examples
# chat or testserver.
ARG EXAMPLE=chat
RUN case "$EXAMPLE" in chat|testserver) ;; *) echo "EXAMPLE must be chat or testserver, not $EXAMPLE" >&2; exit 1;; esac
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/server ./${EXAMPLE}

# Static binary on distroless: CA certificates and tzdata, no shell, runs
# as user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/server /server
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/server"]
CMD ["-addr", ":8080"]
