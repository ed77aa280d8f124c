# Build and run Parley in a container (used by docker-compose.yml).
# The toolchain Parley is built and tested with (Package.swift needs tools 6.2 or later).
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Plugins ./Plugins
COPY Tests ./Tests
COPY sql ./sql
# The web inbox and widget are embedded at build time, as the SQL is (EmbedPlugin).
COPY web ./web
COPY openapi.yaml ./
RUN swift build -c release --product parley \
    && cp "$(swift build -c release --show-bin-path)/parley" /parley

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates curl libcurl4 libxml2 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 parley
COPY --from=build /usr/lib/swift/linux/*.so /usr/lib/swift/linux/
COPY --from=build /parley /usr/local/bin/parley
ENV LD_LIBRARY_PATH=/usr/lib/swift/linux
USER parley
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/parley"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
