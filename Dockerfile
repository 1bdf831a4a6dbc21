# The resolver as a container image: a static binary on distroless, run as
# a non-root user, its state (the Badger replica) in a volume.
#
#   docker build -t resolver .
#   docker run --rm -e RESOLVER_KAFKA_BROKERS=broker:9092 \
#     -e RESOLVER_ADMIN_TOKEN="$(openssl rand -hex 24)" -p 127.0.0.1:9464:9464 resolver
#
# The admin server listens on 0.0.0.0:9464 so that its port can be
# published, and therefore needs a token: without RESOLVER_ADMIN_TOKEN the
# resolver refuses to start (exit 2, "config: admin.addr: ... admin.token
# is empty"). Every endpoint but /healthz then needs "Authorization: Bearer
# <token>". To keep it inside the container instead, pass
# -e RESOLVER_ADMIN_ADDR=127.0.0.1:9464 (no token needed, nothing published).
#
# docker-compose.yml runs three of these against a Kafka broker, with
# ClickHouse ingesting the outputs. internal/warehouse checks this file: the build
# step is the same plain `go build` the tests run.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What `resolver version` and resolver_build_info report; the build context
# has no .git, so pass them:
#   docker build --build-arg VERSION=1.4.0 --build-arg COMMIT=$(git rev-parse HEAD) .
# Left empty, the binary says "(devel)" and "unknown".
ARG VERSION=""
ARG COMMIT=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/resolver ./cmd/resolver
# The state directory, created here because the runtime image has no shell;
# owned by the runtime's nonroot user (65532) so that a fresh named volume
# mounted on it is writable.
RUN mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/resolver /usr/local/bin/resolver
COPY --from=build --chown=65532:65532 /out/state /var/lib/resolver
# A container's admin server must listen beyond loopback to be reached
# through a published port; it refuses to do so without
# RESOLVER_ADMIN_TOKEN, which the operator passes (never baked in here).
ENV RESOLVER_STATE_DIR=/var/lib/resolver \
    RESOLVER_ADMIN_ADDR=0.0.0.0:9464 \
    RESOLVER_LOG_FORMAT=json
VOLUME ["/var/lib/resolver"]
EXPOSE 9464
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/resolver"]
CMD ["run"]
