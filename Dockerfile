# ccsbench as a container image: a static binary on distroless, run as a
# non-root user. Build from the repository root:
#
#   docker build --build-arg VERSION="$(git describe --tags --always --dirty)" -t ccsbench .
#
# The image's entry point is the ccsbench binary, so arguments are a
# subcommand and its flags: `docker run ccsbench fake --listen 0.0.0.0:5235`.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION is what `ccsbench version` prints; the .git folder is not in the
# build context (.dockerignore), so it is passed in.
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
        -ldflags "-s -w -X main.version=${VERSION}" \
        -o /out/ccsbench ./cmd/ccsbench

# distroless/static: CA certificates, time zone data and /etc/passwd with
# the nonroot user (uid 65532), no shell and no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ccsbench /usr/local/bin/ccsbench
USER nonroot:nonroot
# 5235: CCS (ccsbench fake); 9090: the fake's /stats.json and /metrics.
EXPOSE 5235 9090
ENTRYPOINT ["/usr/local/bin/ccsbench"]
