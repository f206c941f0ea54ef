# Toxiproxy server as setup built it from its Go module (static, CGO_ENABLED=0) for the local provider.
ARG BASE
FROM ${BASE}
COPY lab-toxiproxy-server /usr/local/bin/lab-toxiproxy-server
