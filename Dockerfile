# syntax=docker/dockerfile:1
# One static binary, every subcommand (manager, reloader, render), on a distroless
# non-root base; beside it fbexec, which agent pods copy in to start Fluent Bit.
# Build: docker build --build-arg VERSION=v0.1.0 -t logplane:v0.1.0 .

FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
# Dependencies first, so that code changes reuse the module layer.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
# The CRDs are embedded: `logplane render` applies their schema defaults.
COPY config/crd/ config/crd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/logplane ./cmd/logplane && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/fbexec ./cmd/fbexec

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/logplane /logplane
COPY --from=build /out/fbexec /fbexec
USER 65532:65532
ENTRYPOINT ["/logplane"]
CMD ["manager"]
